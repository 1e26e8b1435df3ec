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
- improve step: the package's `_mixed_batch` (ONE UNet pass over real + synthetic, θC and θE read the
  same features) vs the official release's two-pass step, re-implemented here as a REFERENCE
  (``improve_shared_vs_two_pass``); features streamed, not cached, in both;
- creation: `create_batch` vs a bare UNet forward loop over the same steps and batch
  (``creation_vs_bare_unet``);
- peak memory: torch.cuda.max_memory_allocated per section on CUDA, the process's ru_maxrss on CPU.

Sizes: ``embedded`` (the shipped rooms UNet), ``tiny`` (a tiny random Stable Diffusion: VAE and text
path), ``sd15`` (SD v1.5's published architecture with RANDOM weights, 512x512 images, 64x64 latents;
nothing is downloaded). Writes bench/results/speed-<device>[-<size>].json and .md and prints the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import diffusers
import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from diff2in1.backbones import (
    DiffusionBackbone,
    StableDiffusionBackbone,
    load_backbone,
    load_embedded_backbone,
)
from diff2in1.backbones.tiny import save_tiny_stable_diffusion, write_clip_tokenizer
from diff2in1.config import add_dataclass_arguments, config_from_args, option
from diff2in1.creation import create_batch
from diff2in1.data.rooms import CLASSES
from diff2in1.fileio import write_json, write_text
from diff2in1.heads import PerceptionModel
from diff2in1.perception.ddim import denoising_timesteps
from diff2in1.perception.splits import features_of
from diff2in1.training.augment import Augmentation
from diff2in1.training.improve import ImproveConfig, _mixed_batch
from diff2in1.training.sources import BatchSource, load_all
from diff2in1.training.synthetic import SyntheticPool, label_with

SECTIONS = ["features", "warmup", "epoch", "improve", "creation"]
TASKS = ["normal", "depth", "semseg"]
TARGETS = {"improve_shared_vs_two_pass": 1.8, "warmup_epoch_cached_vs_uncached": 5.0, "creation_vs_bare_unet": 0.85}

# Stable Diffusion v1.5's published configs (unet/, vae/, text_encoder/, scheduler/ of the model folder).
SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, norm_num_groups=32,
                 act_fn="silu", downsample_padding=1, flip_sin_to_cos=True, freq_shift=0, norm_eps=1e-5)
SD15_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                layers_per_block=2, norm_num_groups=32, act_fn="silu", sample_size=512, scaling_factor=0.18215)
SD15_TEXT = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                 num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
                 bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
SD15_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon")


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
    real_fraction: float = option(0.5, "share of real samples in an improve batch")
    channels: int = option(64, "aggregator / head width (the warm-up default)")
    fuse_stride: int = option(4, "aggregator's 3x3 fusion at feature strides >= this (the warm-up default)")
    repeats: int = option(3, "timed runs per measurement; the median is reported")
    precision: str = option("fp32", "autocast dtype for the UNet and the heads", choices=["fp32", "bf16", "fp16"])
    channels_last: bool = option(False, "channels_last memory format for the UNet (and VAE) and the heads")
    compile: bool = option(False, "torch.compile the heads and the UNet's blocks outside the feature hooks")
    sections: list[str] = option(list(SECTIONS), f"what to measure, of {SECTIONS}")
    out: str = option("bench/results", "folder of speed-<device>[-<size>].json and .md")
    seed: int = option(0, "seed of the random images, labels and weights")
    threads: int = option(0, "torch intra-op threads (0 = torch's default); on a CPU shared with other jobs, 1 "
                          "avoids threads spin-waiting at every op for a descheduled sibling")


# ----------------------------------------------------------------------------- timing and memory


class Bench:
    """Device, autocast, timing and memory bookkeeping shared by the sections."""

    def __init__(self, config: SpeedConfig):
        self.config = config
        self.device = torch.device(config.device)
        self.dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[config.precision]
        self.timings: dict[str, dict[str, Any]] = {}
        self.memory: dict[str, float] = {}

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def medians(self, name: str, runs: dict[str, Callable[[], Any]]) -> dict[str, float]:
        """Median seconds of each function: one untimed call each, then ``repeats`` rounds a, b, a, b, ..."""
        for run in runs.values():
            run()
        times: dict[str, list[float]] = {key: [] for key in runs}
        for _ in range(self.config.repeats):
            for key, run in runs.items():
                self.sync()
                start = time.perf_counter()
                run()
                self.sync()
                times[key].append(time.perf_counter() - start)
        self.timings[name] = {key: [round(t, 4) for t in value] for key, value in times.items()}
        return {key: statistics.median(value) for key, value in times.items()}

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        yield
        if self.device.type == "cuda":
            self.memory[name] = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:  # the process's peak resident set so far (KiB on Linux)
            self.memory[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    name = platform.processor() or "unknown processor"
    if Path("/proc/cpuinfo").is_file():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        name = names[0] if names else name
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"cpu: {name}, {cores} cores"


def device_tag(device: torch.device) -> str:
    """'cpu', or the GPU's model for file names: 'NVIDIA H100 80GB HBM3' -> 'h100'."""
    if device.type != "cuda":
        return device.type
    words = [w for w in re.split(r"[\s_-]+", torch.cuda.get_device_name(device).lower())
             if w and w not in {"nvidia", "geforce", "tesla", "rtx"}]
    return re.sub(r"[^a-z0-9]", "", words[0]) if words else "cuda"


# ----------------------------------------------------------------------------- models and data


def build_sd15(device: torch.device, folder: Path) -> StableDiffusionBackbone:
    """SD v1.5's architecture with random weights (CLIP's real tokenizer, from the open_clip vocabulary)."""
    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(folder / "tokenizer"))
    with torch.device(device):
        unet = UNet2DConditionModel(**SD15_UNET)
        vae = AutoencoderKL(**SD15_VAE)
        text_encoder = CLIPTextModel(CLIPTextConfig(**SD15_TEXT))
    return StableDiffusionBackbone(vae, unet, text_encoder, tokenizer, DDIMScheduler(**SD15_SCHEDULER))


def compile_outside_hooks(module: nn.Module, hooked: list[str], prefix: str = "") -> None:
    """Compile the largest submodules that are neither a feature layer nor contain one, so the forward
    hooks `capture_features` adds and removes on every call stay in eager code (no recompilation)."""
    for name, child in module.named_children():
        full = prefix + name
        if full in hooked or any(h.startswith(full + ".") for h in hooked):
            compile_outside_hooks(child, hooked, full + ".")
        elif any(True for _ in child.parameters()):
            child.compile()


def make_backbone(config: SpeedConfig, device: torch.device, folder: Path) -> DiffusionBackbone:
    torch.manual_seed(config.seed)
    if config.size == "embedded":
        backbone = load_embedded_backbone(device=device)
    elif config.size == "tiny":
        backbone = load_backbone("stable_diffusion", save_tiny_stable_diffusion(folder / "tiny"), device=device)
    else:
        backbone = build_sd15(device, folder)
    if config.channels_last:
        for model in backbone.frozen_modules().values():
            model.to(memory_format=torch.channels_last)
    backbone.feature_channels  # noqa: B018 (probe the feature shapes before any compilation)
    if config.compile:
        compile_outside_hooks(backbone.unet, backbone.feature_layers)
    return backbone


def make_head(config: SpeedConfig, backbone: DiffusionBackbone) -> tuple[PerceptionModel, torch.optim.Optimizer]:
    model = PerceptionModel(backbone.feature_channels, backbone.feature_strides, TASKS, num_classes=len(CLASSES),
                            channels=config.channels, fuse_stride=config.fuse_stride).to(backbone.device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    if config.compile:
        model.compile()
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4)


def make_items(n: int, size: int, seed: int, labels: bool = True) -> list[dict[str, Any]]:
    """Random images in [0, 1] with random valid labels of the three tasks, as the data readers give them."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        item: dict[str, Any] = {"id": f"{i:05d}", "image": torch.rand(3, size, size, generator=g),
                                "caption": f"a room with {i % 5 + 2} boxes"}
        if labels:
            normal = torch.randn(3, size, size, generator=g)
            item.update(normal=normal / normal.norm(dim=0, keepdim=True),
                        depth=torch.rand(1, size, size, generator=g) * 4 + 0.5,
                        semseg=torch.randint(0, len(CLASSES), (size, size), generator=g),
                        mask={task: torch.ones(size, size, dtype=torch.bool) for task in TASKS})
        items.append(item)
    return items


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
    cached = BatchSource(backbone, items, flips, config.seed, cache=True, progress=False)
    cached.cache.fill()  # the cache fills lazily; the steady state is a full one
    streamed = BatchSource(backbone, items, flips, config.seed, cache=False, progress=False)
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
    streamed = BatchSource(backbone, items, flips, config.seed, cache=False, progress=False)
    built = BatchSource(backbone, items, flips, config.seed, cache=True, progress=False)
    built.cache.fill()
    model, optimizer = make_head(config, backbone)

    def epoch(source: BatchSource | None) -> None:
        source = source or BatchSource(backbone, items, flips, config.seed, cache=True, progress=False)
        for _ in range(steps):
            batch = source.next(config.batch_size)
            head_step(bench, model, optimizer, batch, lambda: source.features(batch))  # noqa: B023

    seconds = bench.medians("warmup_epoch", {"uncached": lambda: epoch(streamed),
                                             "cached_first_with_build": lambda: epoch(None),
                                             "cached_steady": lambda: epoch(built)})
    return {"warmup_epoch_s": seconds, "warmup_epoch_steps": steps,
            "warmup_epoch_cached_vs_uncached": seconds["uncached"] / seconds["cached_steady"],
            "warmup_first_epoch_cached_vs_uncached": seconds["uncached"] / seconds["cached_first_with_build"]}


def merge_labels(real: dict[str, Any], syn: dict[str, Any], tasks: list[str]) -> dict[str, Any]:
    batch: dict[str, Any] = {"image": torch.cat([real["image"], syn["image"]]), "mask": {}}
    for task in tasks:
        batch[task] = torch.cat([real[task], syn[task]])
        batch["mask"][task] = torch.cat([real["mask"][task], syn["mask"][task]])
    return batch


def draw_improve_batch(bench: Bench, real_source: BatchSource, pool: SyntheticPool) -> tuple[dict, dict, dict]:
    """(real half with labels, synthetic half without, both as one batch of images and captions)."""
    num_syn = int(round(bench.config.batch_size * (1 - bench.config.real_fraction)))
    real, syn = real_source.next(bench.config.batch_size - num_syn), pool.next(num_syn)
    both = {"image": torch.cat([real["image"], syn["image"]]), "caption": list(real["caption"]) + list(syn["caption"])}
    return real, syn, both


def label_synthetic(syn: dict[str, Any], creation: PerceptionModel, features: list[torch.Tensor]) -> None:
    """θC's labels for the LAST len(syn) rows of ``features`` go into ``syn``."""
    num_syn = len(syn["image"])
    labels = label_with(creation, features, tuple(syn["image"].shape[-2:]))
    syn.update({task: labels[task][-num_syn:] for task in TASKS})
    syn["mask"] = {task: labels["mask"][task][-num_syn:] for task in TASKS}


def two_pass_reference(bench: Bench, backbone: DiffusionBackbone, real_source: BatchSource, pool: SyntheticPool,
                       creation: PerceptionModel, label_rows: str) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """REFERENCE, NOT the package's way: the official release's improve batch, the UNet run twice per step.

    training_2nd_stage.py of the release (github.com/zsh2000/diff-2-in-1) encodes the whole batch and runs
    the UNet for θC's labels, then encodes it and runs the UNet again for θE. ``label_rows="all"`` does
    that; ``"synthetic"`` runs θC's pass on the synthetic half only (the cheapest two-pass variant).
    """
    real, syn, both = draw_improve_batch(bench, real_source, pool)
    label_synthetic(syn, creation, features_of(backbone, both if label_rows == "all" else syn))
    return merge_labels(real, syn, TASKS), features_of(backbone, both)


def one_pass_reference(bench: Bench, backbone: DiffusionBackbone, real_source: BatchSource, pool: SyntheticPool,
                       creation: PerceptionModel) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """REFERENCE: exactly one UNet pass over real + synthetic, θC reading the synthetic rows (what the
    package's `_mixed_batch` should cost; compare ``improve_unet_images_per_step``)."""
    real, syn, both = draw_improve_batch(bench, real_source, pool)
    features = features_of(backbone, both)
    label_synthetic(syn, creation, [f[len(real["image"]):] for f in features])
    return merge_labels(real, syn, TASKS), features


def count_unet_images(backbone: DiffusionBackbone, run: Callable[[], Any]) -> int:
    """Images the UNet saw during ``run()`` (summed over its forward calls)."""
    seen = [0]

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
        seen[0] += int((args[0] if args else kwargs["sample"]).shape[0])

    handle = backbone.unet.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        run()
    finally:
        handle.remove()
    return seen[0]


def bench_improve(bench: Bench, backbone: DiffusionBackbone, items: list[dict[str, Any]]) -> dict[str, Any]:
    """θE's improve step, streamed features: the package's shared pass vs the release's two passes."""
    config, flips = bench.config, Augmentation(flip=True)
    real_source = BatchSource(backbone, items, flips, config.seed, cache=False, progress=False)
    synthetic = load_all(make_items(len(items), backbone.sample_size, config.seed + 7, labels=False))
    pool = SyntheticPool(backbone, synthetic, flips, config.seed, cache=False, progress=False)
    model, optimizer = make_head(config, backbone)
    creation, _ = make_head(config, backbone)
    improve = ImproveConfig(batch_size=config.batch_size, real_fraction=config.real_fraction, cache_features=False)
    run = SimpleNamespace(backbone=backbone, tasks=TASKS)

    def step(make_batch: Callable[[], tuple[dict[str, Any], list[torch.Tensor]]]) -> None:
        with bench.autocast():  # θC's labels come with the features: the batch is complete only after them
            batch, features = make_batch()
        head_step(bench, model, optimizer, batch, lambda: features)

    args = (bench, backbone, real_source, pool, creation)
    runs = {"shared": lambda: step(lambda: _mixed_batch(run, real_source, pool, creation, improve)),
            "one_pass_reference": lambda: step(lambda: one_pass_reference(*args)),
            "two_pass_release": lambda: step(lambda: two_pass_reference(*args, "all")),
            "two_pass_synthetic_half": lambda: step(lambda: two_pass_reference(*args, "synthetic"))}
    seconds = bench.medians("improve_step", runs)
    rates = {key: config.batch_size / value for key, value in seconds.items()}
    return {"improve_step_images_per_s": rates,
            "improve_unet_images_per_step": {key: count_unet_images(backbone, fn) for key, fn in runs.items()},
            "improve_shared_vs_two_pass": rates["shared"] / rates["two_pass_release"],
            "improve_shared_vs_two_pass_synthetic_half": rates["shared"] / rates["two_pass_synthetic_half"],
            "improve_one_pass_reference_vs_two_pass": rates["one_pass_reference"] / rates["two_pass_release"]}


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


# ----------------------------------------------------------------------------- report


def breakdown(results: dict[str, Any]) -> dict[str, float]:
    """Seconds per image of the UNet pass (U) and of the cached head step (H): no cache can make a warm-up
    step more than (U + H) / H times faster."""
    if "features_images_per_s" not in results or "warmup_step_images_per_s" not in results:
        return {}
    unet, head = 1 / results["features_images_per_s"], 1 / results["warmup_step_images_per_s"]["cached"]
    return {"unet_s_per_image": unet, "head_step_s_per_image": head, "warmup_cache_ceiling": (unet + head) / head}


def table(results: dict[str, Any]) -> str:
    rows = [("device", results["device"], ""), ("backbone", results["backbone"]["size"], ""),
            ("load average (1 min) before / after", "{:.1f} / {:.1f}".format(*results["load_average_1min"]), "")]
    fmt = {"features_images_per_s": "{:.2f} images/s", "warmup_cached_vs_uncached": "{:.2f}x",
           "warmup_epoch_cached_vs_uncached": "{:.2f}x", "warmup_first_epoch_cached_vs_uncached": "{:.2f}x",
           "improve_shared_vs_two_pass": "{:.2f}x", "improve_shared_vs_two_pass_synthetic_half": "{:.2f}x",
           "improve_one_pass_reference_vs_two_pass": "{:.2f}x",
           "creation_images_per_s": "{:.3f} images/s", "creation_s_per_image_step": "{:.4f} s",
           "bare_unet_s_per_image_step": "{:.4f} s", "creation_vs_bare_unet": "{:.3f}", "peak_memory_mb": "{:.0f} MB"}
    for key, pattern in fmt.items():
        if key in results:
            target = TARGETS.get(key)
            mark = "" if target is None else f">= {target} ({'met' if results[key] >= target else 'MISSED'})"
            rows.append((key, pattern.format(results[key]), mark))
    for group in ("warmup_step_images_per_s", "improve_step_images_per_s", "improve_unet_images_per_step",
                  "breakdown"):
        for key, value in results.get(group, {}).items():
            rows.append((f"{group}.{key}", f"{value:.3g}", ""))
    for key, value in results.get("warmup_epoch_s", {}).items():
        rows.append((f"warmup_epoch_s.{key}", f"{value:.2f} s", ""))
    lines = ["| measure | value | target |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


MEASURES = {"features": bench_features, "warmup": bench_warmup, "epoch": bench_epoch, "improve": bench_improve,
            "creation": bench_creation}


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
    with tempfile.TemporaryDirectory() as folder:
        backbone = make_backbone(config, bench.device, Path(folder))
        items = make_items(max(config.epoch_images, config.batch_size, config.creation_batch),
                           backbone.sample_size, config.seed)
        results: dict[str, Any] = {}
        for name in [s for s in SECTIONS if s in config.sections]:
            with bench.section(name):
                results.update(MEASURES[name](bench, backbone, items))
            print(f"{name}: done ({time.strftime('%H:%M:%S')})", flush=True)
    results = {
        "device": device_name(bench.device), "torch": torch.__version__, "diffusers": diffusers.__version__,
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
    stem = f"speed-{device_tag(bench.device)}" + ("" if config.size == "embedded" else f"-{config.size}")
    write_json(Path(config.out) / f"{stem}.json", results)
    text = table(results)
    write_text(Path(config.out) / f"{stem}.md", f"# {stem}\n\n`{results['command']}`\n\n{text}")
    print(text)
    return results


if __name__ == "__main__":
    main()
