"""Speed of the diff2in1 stages on one device, in one run: features, warm-up, improve and creation.

    .venv/bin/python bench/speed.py --threads 1 --repeats 5    # CPU, the embedded 64x64 rooms backbone
    .venv/bin/python bench/speed.py --device cuda              # the same on a GPU
    .venv/bin/python bench/speed.py --device cuda --size sd15 --precision fp16 --channels-last true

Measured (median of --repeats timed runs after one untimed run; rival paths run interleaved, so a change
of machine load hits both alike):

- features: `extract_features` images/s at --batch-size;
- warm-up step: batch + features + head forward/backward/AdamW step, features from the (filled)
  FeatureCache vs from the frozen UNet (``warmup_cached_vs_uncached``), and whole epochs of
  --epoch-images: uncached, cached from empty (the first epoch: the cache fills lazily, one UNet pass
  per sample asked for), cached with every image and mirror held (later epochs);
- improve step (`speed_improve.py`): the control, the view-ensemble teacher with a perturbed student and the
  release's recipe, features streamed (a UNet pass per (image, view)) and cached;
- creation: `create_batch` vs a bare UNet forward loop over the same steps and batch
  (``creation_vs_bare_unet``);
- trainable step (`speed_trainable.py`, not in the default --sections: ask for ``trainable``): one warm-up
  step with the UNet frozen (``none``) or trained (``lora``, ``full``; with and without gradient checkpointing),
  seconds per step and peak memory, each row in a process of its own (``speed_trainable.py`` alone writes
  speed-<device>-trainable.json with the rooms and SD v1.5 sizes together);
- peak memory: torch.cuda.max_memory_allocated per section on CUDA, the process's ru_maxrss on CPU.

Sizes: ``embedded`` (the shipped rooms UNet), ``tiny`` (a tiny random Stable Diffusion: VAE and text
path), ``sd15`` (SD v1.5's published architecture with RANDOM weights, 512x512 images, 64x64 latents;
nothing is downloaded). Writes bench/results/speed-<device>[-<size>][-<precision>].json and .md (the
precision unless fp32) and prints the table.

Files: this one (options, sections, main), `speed_models.py` (the backbone of each size, heads, items),
`speed_reference.py` (the release's two-pass improve step as it was, UNet image counting), `speed_improve.py`
(the improve section), `speed_harness.py` (timing, memory, table).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import diffusers
import torch

from diff2in1.backbones import DiffusionBackbone
from diff2in1.config import add_dataclass_arguments, config_from_args, option
from diff2in1.creation import create_batch
from diff2in1.fileio import read_json, write_json, write_text
from diff2in1.heads import PerceptionModel
from diff2in1.perception.ddim import denoising_timesteps
from diff2in1.perception.identity import CLEAN, MIRROR
from diff2in1.perception.splits import features_of
from diff2in1.training.augment import Augmentation
from diff2in1.training.samples import load_all
from diff2in1.training.sources import BatchSource
from speed_harness import Bench, breakdown, device_name, device_tag, git_commit, table
from speed_improve import bench_improve
from speed_models import make_backbone, make_head, make_items
from speed_trainable import bench_trainable, trainable_table

SECTIONS = ["features", "warmup", "epoch", "improve", "creation", "trainable"]
DEFAULT_SECTIONS = SECTIONS[:5]  # trainable: minutes of UNet backward passes per size; asked for by name


@dataclass
class SpeedConfig:
    device: str = option("cpu", "cpu or cuda (cuda:N)")
    size: str = option("embedded", "embedded (64x64 rooms UNet), tiny (tiny random SD), sd15 (SD v1.5 shapes, "
                       "random weights, 512x512)", choices=["embedded", "tiny", "sd15"])
    batch_size: int = option(8, "images per feature / warm-up / improve step")
    epoch_images: int = option(128, "images in one warm-up epoch (a multiple of --batch-size)")
    creation_batch: int = option(4, "images per create_batch call")
    creation_steps: int = option(50, "DDIM schedule length (about 31 of 50 run for t* = 600)")
    t_star: int = option(600, "creation noise timestep")
    channels: int = option(64, "aggregator / head width (the warm-up default)")
    fuse_stride: int = option(4, "aggregator's 3x3 fusion at feature strides >= this (the warm-up default)")
    repeats: int = option(3, "timed runs per measurement; the median is reported")
    precision: str = option("fp32", "autocast dtype for the UNet and the heads", choices=["fp32", "bf16", "fp16"])
    channels_last: bool = option(False, "channels_last memory format for the UNet (and VAE) and the heads")
    compile: bool = option(False, "torch.compile the heads and the UNet's blocks outside the feature hooks")
    sections: list[str] = option(list(DEFAULT_SECTIONS), f"what to measure, of {SECTIONS}")
    out: str = option("bench/results", "folder of speed-<device>[-<size>][-<precision>].json and .md")
    update: bool = option(False, "replace only the figures of --sections in an existing result file; the other "
                          "sections keep theirs and who made them (sections_made_by)")
    seed: int = option(0, "seed of the random images, labels and weights")
    threads: int = option(0, "torch intra-op threads (0 = torch's default); on a CPU shared with other jobs, 1 "
                          "avoids threads spin-waiting at every op for a descheduled sibling")



def head_step(bench: Bench, model: PerceptionModel, optimizer: torch.optim.Optimizer,
              batch: dict[str, Any], features: Callable[[], list[torch.Tensor]]) -> None:
    """θE's training step: features (cache read or UNet pass), forward, loss, backward, AdamW step.

    No GradScaler with fp16 autocast: only the time matters here, not whether small gradients underflow.
    """
    with bench.autocast():
        preds = model(features(), tuple(batch["image"].shape[-2:]))
        loss, _ = model.loss(preds, batch)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


# ----------------------------------------------------------------------------- sections


def bench_features(bench: Bench, backbone: DiffusionBackbone, items: list[dict[str, Any]]) -> dict[str, Any]:
    batch = load_all(items[: bench.config.batch_size])
    batch["image"] = batch["image"].to(backbone.device)

    def extract() -> None:
        with bench.autocast():
            features_of(backbone, batch)

    seconds = bench.medians("features", {"extract": extract})["extract"]
    return {"features_images_per_s": bench.config.batch_size / seconds}


def bench_warmup(bench: Bench, backbone: DiffusionBackbone, items: list[dict[str, Any]]) -> dict[str, Any]:
    """One warm-up step with features from the cache vs from the UNet (BatchSource, as `train_warmup`)."""
    config, flips = bench.config, Augmentation(flip=True)
    cached = BatchSource(backbone, items, flips, config.seed, cache=True)
    cached.cache.fill([CLEAN, MIRROR])  # the cache fills lazily; the steady state is a full one
    streamed = BatchSource(backbone, items, flips, config.seed, cache=False)
    model, optimizer = make_head(config, backbone)

    def step(source: BatchSource) -> None:
        batch = source.next(config.batch_size)
        head_step(bench, model, optimizer, batch, lambda: source.features(batch))

    seconds = bench.medians("warmup_step", {"uncached": lambda: step(streamed), "cached": lambda: step(cached)})
    rates = {key: config.batch_size / value for key, value in seconds.items()}
    return {"warmup_step_images_per_s": rates, "warmup_cached_vs_uncached": rates["cached"] / rates["uncached"]}


def bench_epoch(bench: Bench, backbone: DiffusionBackbone, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Warm-up epochs: uncached; cached with the build (the first epoch); cached, cache built (later ones)."""
    config, flips = bench.config, Augmentation(flip=True)
    steps = max(1, config.epoch_images // config.batch_size)
    streamed = BatchSource(backbone, items, flips, config.seed, cache=False)
    built = BatchSource(backbone, items, flips, config.seed, cache=True)
    built.cache.fill([CLEAN, MIRROR])
    model, optimizer = make_head(config, backbone)

    def epoch(source: BatchSource | None) -> None:
        source = source or BatchSource(backbone, items, flips, config.seed, cache=True)
        for _ in range(steps):
            batch = source.next(config.batch_size)
            head_step(bench, model, optimizer, batch, lambda: source.features(batch))  # noqa: B023

    seconds = bench.medians("warmup_epoch", {"uncached": lambda: epoch(streamed),
                                             "cached_first_with_build": lambda: epoch(None),
                                             "cached_steady": lambda: epoch(built)})
    return {"warmup_epoch_s": seconds, "warmup_epoch_steps": steps,
            "warmup_epoch_cached_vs_uncached": seconds["uncached"] / seconds["cached_steady"],
            "warmup_first_epoch_cached_vs_uncached": seconds["uncached"] / seconds["cached_first_with_build"]}


def bench_creation(bench: Bench, backbone: DiffusionBackbone, items: list[dict[str, Any]]) -> dict[str, Any]:
    """`create_batch` vs the bare UNet forward loop over the same timesteps and batch."""
    config = bench.config
    batch = load_all(items[: config.creation_batch])
    images, captions = batch["image"].to(backbone.device), list(batch["caption"])
    model, _ = make_head(config, backbone)
    model.eval()
    steps = denoising_timesteps(backbone.set_inference_steps(config.creation_steps), config.t_star)
    with torch.no_grad():
        sample = torch.randn_like(backbone.encode(images * 2 - 1))
        extra = {"encoder_hidden_states": backbone.encode_text(captions)} if backbone.takes_text else {}

    @torch.no_grad()
    def bare() -> None:
        with bench.autocast():
            for t in steps:
                backbone.unet(sample, t, **extra)

    def create() -> None:
        with bench.autocast():
            create_batch(backbone, model, images, captions, config.t_star, config.creation_steps,
                         generator=torch.Generator(backbone.device).manual_seed(config.seed))

    seconds = bench.medians("creation", {"bare_unet": bare, "create_batch": create})
    per_step = {key: value / (len(steps) * config.creation_batch) for key, value in seconds.items()}
    return {"creation_denoising_steps": len(steps), "creation_images_per_s": config.creation_batch / seconds["create_batch"],
            "creation_s_per_image_step": per_step["create_batch"], "bare_unet_s_per_image_step": per_step["bare_unet"],
            "creation_vs_bare_unet": seconds["bare_unet"] / seconds["create_batch"]}


MEASURES = {"features": bench_features, "warmup": bench_warmup, "epoch": bench_epoch, "improve": bench_improve,
            "creation": bench_creation}
ALONE = {"trainable": bench_trainable}  # rows in processes of their own: run before this one builds its backbone


def measure(config: SpeedConfig, bench: Bench) -> tuple[dict[str, Any], DiffusionBackbone]:
    """Every section of ``config.sections`` on the backbone of ``config.size``."""
    results: dict[str, Any] = {}
    for name in [s for s in SECTIONS if s in config.sections and s in ALONE]:
        with bench.section(name):
            results.update(ALONE[name](bench))
        print(f"{name}: done ({time.strftime('%H:%M:%S')})", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        backbone = make_backbone(config, bench.device, Path(folder))
        items = make_items(max(config.epoch_images, config.batch_size, config.creation_batch),
                           backbone.sample_size, config.seed)
        for name in [s for s in SECTIONS if s in config.sections and s not in ALONE]:
            with bench.section(name):
                results.update(MEASURES[name](bench, backbone, items))
            print(f"{name}: done ({time.strftime('%H:%M:%S')})", flush=True)
    return results, backbone


def describe(config: SpeedConfig, bench: Bench, backbone: DiffusionBackbone, results: dict[str, Any],
             load_before: float, commit: str) -> dict[str, Any]:
    """The result file: how it was made (command, commit, machine, versions, settings), then the measures."""
    return {
        "device": device_name(bench.device), "machine": device_name(bench.device), "git_commit": commit,
        "torch": torch.__version__, "diffusers": diffusers.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "config": asdict(config),
        "threads": torch.get_num_threads(), "load_average_1min": [load_before, os.getloadavg()[0]],
        "backbone": {"size": config.size, "image_size": backbone.sample_size,
                     "feature_channels": backbone.feature_channels, "feature_strides": backbone.feature_strides,
                     "unet_parameters": sum(p.numel() for p in backbone.unet.parameters())},
        "batch_sizes": {"features": config.batch_size, "warmup": config.batch_size, "improve": config.batch_size,
                        "creation": config.creation_batch, "epoch_images": config.epoch_images},
        **results, "breakdown": breakdown(results),
        "peak_memory_mb": max(bench.memory.values(), default=0.0), "peak_memory_mb_by_section": bench.memory,
        "peak_memory_kind": "torch.cuda.max_memory_allocated per section" if bench.device.type == "cuda"
        else "process ru_maxrss so far (monotone)",
        "timings_s": bench.timings,
    }


PROVENANCE = ("command", "git_commit", "date", "threads", "load_average_1min", "config")


def made_by(results: dict[str, Any]) -> dict[str, Any]:
    return {key: results[key] for key in PROVENANCE if key in results}


def updated(previous: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """``previous`` with the figures of the sections run now replaced by ``results``'; every section keeps the
    command, commit and settings of the run that measured it (a file from before this record: its own)."""
    sections = previous.get("sections_made_by") or {name: made_by(previous) for name in previous["config"]["sections"]}
    merged = {**previous, **results}
    for key in ("timings_s", "peak_memory_mb_by_section"):
        merged[key] = {**previous.get(key, {}), **results[key]}
    merged["peak_memory_mb"] = max(merged["peak_memory_mb_by_section"].values(), default=0.0)
    merged["breakdown"] = breakdown(merged)
    merged["sections_made_by"] = {**sections, **results["sections_made_by"]}
    return merged


def result_stem(config: SpeedConfig, device: torch.device) -> str:
    """speed-<device>[-<size>][-<precision>]: the size unless embedded, the precision unless fp32."""
    parts = [f"speed-{device_tag(device)}", "" if config.size == "embedded" else config.size,
             "" if config.precision == "fp32" else config.precision]
    return "-".join(part for part in parts if part)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_arguments(parser, SpeedConfig)
    config = config_from_args(SpeedConfig, parser.parse_args(argv))
    unknown = sorted(set(config.sections) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"--sections: unknown {unknown}; choose from {SECTIONS}")
    if config.threads:
        torch.set_num_threads(config.threads)
    bench = Bench(config)
    load_before = os.getloadavg()[0]
    commit = git_commit()  # the code that runs is the code at the start; the tree may change during a long run
    results, backbone = measure(config, bench)
    results = describe(config, bench, backbone, results, load_before, commit)
    results["sections_made_by"] = {name: made_by(results) for name in config.sections}
    target = Path(config.out) / f"{result_stem(config, bench.device)}.json"
    if config.update and target.is_file():
        results = updated(read_json(target), results)
    write_json(target, results)
    print(write_markdown(results, target.with_suffix(".md")))
    return results


def write_markdown(results: dict[str, Any], target: Path) -> str:
    """The result file as a table, headed by how it was made (each section's run when they differ)."""
    text = table(results) + trainable_table(results)
    header = f"`{results['command']}`\n\ngit commit {results['git_commit']}, {results['machine']}"
    if len({(m["command"], m["git_commit"]) for m in results.get("sections_made_by", {}).values()}) > 1:
        header += "\n\nSections made by separate runs:\n" + "\n".join(
            f"- {name}: `{m['command']}` at git commit {m['git_commit']}, {m['date']}"
            for name, m in results["sections_made_by"].items())
    write_text(target, f"# {target.stem}\n\n{header}\n\n{text}")
    return text


if __name__ == "__main__":
    main()
