"""The trainable-backbone section of bench/speed.py: one warm-up optimizer step with the UNet frozen or trained.

    .venv/bin/python bench/speed_trainable.py --threads 1               # rooms (batch 8) and SD v1.5 size (batch 1)
    .venv/bin/python bench/speed_trainable.py --device cuda --repeats 5 5
    .venv/bin/python bench/speed.py --sections trainable --update       # the same rows at speed.py's --size

One step is what ``train_warmup`` runs with ``--train-backbone``: a streamed batch (flips), perception features
(``perception_features``, with gradients into the trained UNet part; ``none``: ``extract_features``, no grad),
the heads ``new_model`` builds at the warm-up defaults, their loss (``warmup.warmup_loss``), backward and the
AdamW step (``make_optimizer``) over the heads plus the trained UNet weights (``param_groups``), via
``TrainStep``. Rows: ``none``; ``lora`` (rank 8, alpha 8, the default targets) and ``full``, each with and
without gradient checkpointing. ``none`` streams its features too (no feature cache), so its step is the
UNet forward plus the heads: what the trained rows add is the UNet's backward and its weights' update.

Each row runs in a fresh process (a trained part changes the UNet for good; a process's peak memory is its
own): one untimed step (AdamW's state is allocated there), then ``--repeats`` timed steps; the median is
reported. Memory: on CUDA ``torch.cuda.max_memory_allocated`` over the steps; on a CPU the peak resident set
(VmHWM, reset just before the first step through /proc/self/clear_refs) and ``step_memory_mb``, its rise over
the resident set before the first step (gradients, AdamW's state, the activations kept for backward). A CPU
row is stopped, and recorded as such, when the machine's available memory falls below ``--min-free-mb``.

Sizes: ``embedded`` (the shipped 64x64 rooms UNet), ``tiny`` (a tiny random Stable Diffusion, for tests) and
``sd15`` (SD v1.5's architecture with RANDOM weights, 512x512 images; nothing is downloaded). Writes
bench/results/speed-<device>-trainable[-<precision>].json and .md and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import diffusers
import torch
from accelerate import Accelerator

from diff2in1.backbones.adapters import attach_trained_unet
from diff2in1.config import add_dataclass_arguments, config_from_args, option
from diff2in1.data.rooms import CLASSES
from diff2in1.fileio import write_json, write_text
from diff2in1.training.augment import Augmentation
from diff2in1.training.backbone_training import param_groups, warmup_settings
from diff2in1.training.configs import WarmupConfig
from diff2in1.training.loop import make_optimizer
from diff2in1.training.sources import BatchSource
from diff2in1.training.step import TrainStep
from diff2in1.training.warmup import new_model, warmup_loss
from speed_harness import device_name, device_tag, git_commit
from speed_models import TASKS, make_backbone, make_items

HERE = Path(__file__).resolve().parent
# (mode, gradient checkpointing): checkpointing only matters where the UNet runs backward.
ROWS = [("none", False), ("lora", False), ("lora", True), ("full", False), ("full", True)]
PRECISIONS = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}  # accelerate's mixed_precision, as training sets it
FRESH_PROCESS = True  # speed.py's section runs each row in a process of its own (tests: False, in this one)


@dataclass
class TrainableConfig:
    device: str = option("cpu", "cpu or cuda (cuda:N)")
    sizes: list[str] = option(["embedded", "sd15"], "backbones: embedded (64x64 rooms UNet), tiny (tiny random "
                              "SD), sd15 (SD v1.5 shapes, random weights, 512x512)")
    batch_sizes: list[int] = option([8, 1], "images per step, one per --sizes")
    repeats: list[int] = option([3, 1], "timed steps after the untimed one, one per --sizes; the median is reported")
    modes: list[str] = option([f"{m}{'+gc' if gc else ''}" for m, gc in ROWS],
                              "rows: none, lora, full; +gc = with gradient checkpointing")
    precision: str = option("fp32", "mixed precision of the step (accelerate's, as training)",
                            choices=list(PRECISIONS))
    lora_rank: int = option(8, "LoRA rank (the warm-up default)")
    lora_alpha: float = option(8.0, "LoRA alpha (the warm-up default)")
    seed: int = option(0, "seed of the random images, labels, weights and adapters")
    threads: int = option(1, "torch intra-op threads (0 = torch's default)")
    min_free_mb: int = option(1024, "stop a CPU row when the machine's available memory falls below this")
    out: str = option("bench/results", "folder of speed-<device>-trainable[-<precision>].json and .md")
    note: str = option("", "a line added to the .md (e.g. what the machine was doing)")


def parse_modes(modes: list[str]) -> list[tuple[str, bool]]:
    rows = []
    for name in modes:
        mode, _, gc = name.partition("+")
        if mode not in ("none", "lora", "full") or gc not in ("", "gc") or (mode == "none" and gc):
            raise SystemExit(f"--modes: {name!r} is not one of none, lora, lora+gc, full, full+gc")
        rows.append((mode, gc == "gc"))
    return rows


def row_key(size: str, mode: str, checkpointing: bool) -> str:
    return f"{size}/{mode}{'+gc' if checkpointing else ''}"


# ----------------------------------------------------------------------------- one row (in its own process)


def _rss_mb(field: str) -> float:
    """VmRSS or VmHWM of this process, MB (Linux); the peak as ru_maxrss elsewhere."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> bool:
    """Reset this process's peak resident set to the current one (Linux 4.0+); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def step_row(job: dict[str, Any]) -> dict[str, Any]:
    """One row: build the backbone of ``job['size']``, attach the trained part, time warm-up optimizer steps."""
    if job["threads"]:
        torch.set_num_threads(job["threads"])
    device, batch_size = torch.device(job["device"]), job["batch_size"]
    with tempfile.TemporaryDirectory() as folder:
        made = SimpleNamespace(size=job["size"], seed=job["seed"], channels_last=False, compile=False)
        backbone = make_backbone(made, device, Path(folder))
        config = WarmupConfig(train_backbone=job["mode"], gradient_checkpointing=job["checkpointing"],
                              lora_rank=job["lora_rank"], lora_alpha=job["lora_alpha"], batch_size=batch_size,
                              seed=job["seed"], mixed_precision=PRECISIONS[job["precision"]])
        trained = attach_trained_unet(backbone, warmup_settings(config), config.seed, config.gradient_checkpointing)
        model = new_model(SimpleNamespace(backbone=backbone, tasks=TASKS, num_classes=len(CLASSES)), config)
        optimizer, schedule = make_optimizer(model, config.lr, config.weight_decay, config.steps, config.lr_warmup,
                                             extra_groups=param_groups(trained, config.lr, config.backbone_lr_scale))
        accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision=config.mixed_precision)
        trainer = TrainStep(accelerator, model.to(device), optimizer, schedule)
        items = make_items(2 * batch_size, backbone.sample_size, job["seed"])
        source = BatchSource(backbone, items, Augmentation(flip=True), config.seed, cache=False,
                             grad=trained is not None)
        run = SimpleNamespace(config=config, trained=trained)

        def sync() -> None:
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        def step() -> float:
            sync()
            start = time.perf_counter()
            loss, _ = warmup_loss(run, trainer, source)
            trainer.step(loss)
            sync()
            return time.perf_counter() - start

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device) / 2**20
        else:
            exact = _reset_peak_rss()
            before = _rss_mb("VmRSS")
        first = step()  # untimed: AdamW's state is allocated here, kernels warm up
        times = [step() for _ in range(job["repeats"])]
        if device.type == "cuda":
            peak, kind = torch.cuda.max_memory_allocated(device) / 2**20, "torch.cuda.max_memory_allocated"
        else:
            peak = _rss_mb("VmHWM")
            kind = "peak RSS (VmHWM) over the steps" if exact else "process ru_maxrss (peak since start)"
        seconds = statistics.median(times)
        unet = sum(p.numel() for p in backbone.unet.parameters() if not _is_adapter(p, trained))
        return {"size": job["size"], "image_size": backbone.sample_size, "batch_size": batch_size,
                "mode": job["mode"], "gradient_checkpointing": job["checkpointing"], "precision": job["precision"],
                "s_per_step": seconds, "images_per_s": batch_size / seconds, "fastest_s_per_step": min(times),
                "first_step_s": round(first, 4),
                "timings_s": [round(t, 4) for t in times], "repeats": job["repeats"],
                "peak_memory_mb": round(peak, 1), "memory_before_step_mb": round(before, 1),
                "step_memory_mb": round(peak - before, 1), "memory_kind": kind,
                "trained_unet_parameters": sum(p.numel() for p in trained.parameters()) if trained else 0,
                "unet_parameters": unet, "head_parameters": sum(p.numel() for p in model.parameters()),
                "threads": torch.get_num_threads()}


def _is_adapter(param: torch.nn.Parameter, trained: Any) -> bool:
    return trained is not None and trained.mode == "lora" and any(param is p for p in trained.parameters())


def _available_mb() -> float | None:
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return None


def _child_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_row(job: dict[str, Any], min_free_mb: int, fresh_process: bool = True) -> dict[str, Any]:
    """One row in a fresh process, watched: a CPU row is stopped when available memory falls below
    ``min_free_mb`` (then the row says so and how much the process held). ``fresh_process`` False: here."""
    label = row_key(job["size"], job["mode"], job["checkpointing"])
    if not fresh_process:
        return step_row(job)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), str(HERE),
                                                       os.environ.get("PYTHONPATH", "")])}
    started, stopped = time.time(), None
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job)],
                                 stdout=out, stderr=err, env=env, text=True)
        while child.poll() is None:
            free = _available_mb() if job["device"] == "cpu" else None
            if free is not None and free < min_free_mb:
                stopped = _child_rss_mb(child.pid)
                child.kill()
                child.wait()
                break
            time.sleep(0.2)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    base = {"size": job["size"], "batch_size": job["batch_size"], "mode": job["mode"],
            "gradient_checkpointing": job["checkpointing"], "precision": job["precision"],
            "wall_s": round(time.time() - started, 1)}
    if stopped is not None:
        row = {**base, "error": f"stopped: the machine's available memory fell below {min_free_mb} MB with this "
                                f"row's process at {stopped:.0f} MB resident", "stopped_at_rss_mb": round(stopped, 1)}
    elif child.returncode:
        row = {**base, "error": f"exit {child.returncode}: {stderr.strip().splitlines()[-1] if stderr.strip() else ''}"}
        print(stderr[-3000:], file=sys.stderr, flush=True)
    else:
        row = {**json.loads(stdout.strip().splitlines()[-1]), "wall_s": base["wall_s"]}
    print(f"{label}: {json.dumps({k: row[k] for k in row if k not in ('timings_s',)})}", flush=True)
    return row


def run_rows(device: str, size: str, batch_size: int, repeats: int, rows: list[tuple[str, bool]], *, precision: str,
             threads: int, seed: int, lora_rank: int = 8, lora_alpha: float = 8.0, min_free_mb: int = 1024,
             fresh_process: bool = True) -> dict[str, dict[str, Any]]:
    """The rows of one size, keyed ``<size>/<mode>[+gc]``."""
    out = {}
    for mode, checkpointing in rows:
        job = {"device": device, "size": size, "batch_size": batch_size, "repeats": repeats, "mode": mode,
               "checkpointing": checkpointing, "precision": precision, "threads": threads, "seed": seed,
               "lora_rank": lora_rank, "lora_alpha": lora_alpha}
        out[row_key(size, mode, checkpointing)] = run_row(job, min_free_mb, fresh_process)
    return out


# ----------------------------------------------------------------------------- the section of bench/speed.py


def bench_trainable(bench: Any) -> dict[str, Any]:
    """speed.py's ``trainable`` section: every row at speed.py's --size, --batch-size, --repeats and
    --precision (the rows run in processes of their own, before speed.py builds its backbone)."""
    config = bench.config
    rows = run_rows(config.device, config.size, config.batch_size, config.repeats, ROWS, precision=config.precision,
                    threads=config.threads or torch.get_num_threads(), seed=config.seed, fresh_process=FRESH_PROCESS)
    bench.timings["trainable_step"] = {key: row.get("timings_s", []) for key, row in rows.items()}
    return {"trainable_step": rows, "trainable_comparisons": comparisons(rows)}


def comparisons(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Ratios between rows of the same size (where both were measured): median and fastest step time, step
    memory, peak memory; keyed ``<size>/<a>_vs_<b>``."""
    out: dict[str, dict[str, float]] = {}
    sizes = list(dict.fromkeys(row["size"] for row in rows.values()))
    pairs = [("lora", "none"), ("full", "none"), ("full", "lora"), ("lora+gc", "lora"), ("full+gc", "full")]
    for size in sizes:
        for a, b in pairs:
            ra, rb = rows.get(f"{size}/{a}", {}), rows.get(f"{size}/{b}", {})
            if "s_per_step" in ra and "s_per_step" in rb:
                out[f"{size}/{a}_vs_{b}"] = {
                    key: round(ra[key] / rb[key], 3) for key in
                    ("s_per_step", "fastest_s_per_step", "step_memory_mb", "peak_memory_mb") if rb.get(key, 0) > 0}
    return out


def trainable_table(results: dict[str, Any]) -> str:
    """The rows as a markdown table ('' when there are none)."""
    rows = results.get("trainable_step") or {}
    if not rows:
        return ""
    lines = ["", "| backbone | image | batch | trained UNet | grad. ckpt | s / step (median) | fastest s / step | "
                 "images / s | peak memory MB | step memory MB | trained UNet params | repeats |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows.values():
        head = (f"| {row['size']} | {row.get('image_size', '')} | {row['batch_size']} | {row['mode']} | "
                f"{'on' if row['gradient_checkpointing'] else 'off'} |")
        if "error" in row:
            lines.append(f"{head} {row['error']} | | | | | | |")
            continue
        lines.append(f"{head} {row['s_per_step']:.3f} | {row['fastest_s_per_step']:.3f} | {row['images_per_s']:.3f} | "
                     f"{row['peak_memory_mb']:.0f} | "
                     f"{row['step_memory_mb']:.0f} | {row['trained_unet_parameters']:,} | {row['repeats']} |")
    ratios = results.get("trainable_comparisons") or comparisons(rows)
    if ratios:
        lines += ["", "| same backbone | time (median) | time (fastest) | step memory | peak memory |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join([key, *(f"{value[k]:.2f}x" if k in value else "" for k in
                                           ("s_per_step", "fastest_s_per_step", "step_memory_mb", "peak_memory_mb"))])
                  + " |" for key, value in ratios.items()]
    kind = next((row["memory_kind"] for row in rows.values() if "memory_kind" in row), "")
    lines += ["", f"Peak memory: {kind}; step memory: its rise over the memory held before the first step "
                  "(gradients, AdamW's state, activations kept for backward)."]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the standalone run


def result_stem(config: TrainableConfig) -> str:
    stem = f"speed-{device_tag(torch.device(config.device))}-trainable"
    return stem if config.precision == "fp32" else f"{stem}-{config.precision}"


def notes(config: TrainableConfig, rows: dict[str, dict[str, Any]]) -> list[str]:
    """What a reader should know about how the rows were measured (one repeat, stopped rows)."""
    out = []
    for size in dict.fromkeys(row["size"] for row in rows.values()):
        none, full = rows.get(f"{size}/none", {}), rows.get(f"{size}/full", {})
        if "memory_before_step_mb" in none and "memory_before_step_mb" in full:
            out.append(f"{size}: full holds {full['memory_before_step_mb'] - none['memory_before_step_mb']:.0f} MB more "
                       "than none before its first step (TrainedUNet's CPU copy of the pretrained UNet, for creation); "
                       "in its peak, not in its step memory.")
    once = [key for key, row in rows.items() if row.get("repeats") == 1]
    if once:
        out.append(f"Timed once (1 step after the untimed one; no median): {', '.join(once)}.")
    out += [f"{key}: {row['error']}." for key, row in rows.items() if "error" in row]
    if config.note:
        out.append(config.note)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_arguments(parser, TrainableConfig)
    config = config_from_args(TrainableConfig, parser.parse_args(argv))
    if not len(config.sizes) == len(config.batch_sizes) == len(config.repeats):
        raise SystemExit("--sizes, --batch-sizes and --repeats: give one of each per size")
    if config.threads:
        torch.set_num_threads(config.threads)
    commit, load_before, started = git_commit(), os.getloadavg()[0], time.time()
    rows: dict[str, dict[str, Any]] = {}
    for size, batch_size, repeats in zip(config.sizes, config.batch_sizes, config.repeats):
        rows.update(run_rows(config.device, size, batch_size, repeats, parse_modes(config.modes),
                             precision=config.precision, threads=config.threads, seed=config.seed,
                             lora_rank=config.lora_rank, lora_alpha=config.lora_alpha,
                             min_free_mb=config.min_free_mb))
    results = {"device": device_name(torch.device(config.device)), "machine": device_name(torch.device(config.device)),
               "git_commit": commit, "torch": torch.__version__, "diffusers": diffusers.__version__,
               "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "command": " ".join([Path(sys.executable).name, *sys.argv]), "config": asdict(config),
               "threads": config.threads or torch.get_num_threads(),
               "load_average_1min": [load_before, os.getloadavg()[0]],
               "minutes": round((time.time() - started) / 60, 1), "trainable_step": rows,
               "trainable_comparisons": comparisons(rows), "notes": notes(config, rows)}
    target = Path(config.out) / f"{result_stem(config)}.json"
    write_json(target, results)
    print(write_markdown(results, target.with_suffix(".md")))
    return results


def write_markdown(results: dict[str, Any], target: Path) -> str:
    text = trainable_table(results)
    header = (f"`{results['command']}`\n\ngit commit {results['git_commit']}, {results['machine']}, "
              f"{results['threads']} thread(s), load average (1 min) {results['load_average_1min'][0]:.1f} before / "
              f"{results['load_average_1min'][1]:.1f} after, {results['date']} ({results['minutes']} min). "
              "Random weights; one step = streamed batch + perception features + heads + loss + backward + AdamW "
              "(bench/speed_trainable.py).")
    extra = "".join(f"\n- {line}" for line in results.get("notes", []))
    write_text(target, f"# {target.stem}\n\n{header}\n{extra}\n{text}")
    return text


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(step_row(json.loads(sys.argv[2]))), flush=True)
    else:
        main()
