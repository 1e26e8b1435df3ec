"""The timing harness of bench/speed.py: medians of interleaved runs, peak memory, the machine, the table.

Rival paths run interleaved (a, b, a, b, ...), so a change of machine load hits both alike.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

TARGETS = {"warmup_epoch_cached_vs_uncached": 5.0, "creation_vs_bare_unet": 0.85}


class Bench:
    """Device, autocast, timing and memory bookkeeping shared by the sections."""

    def __init__(self, config: Any):
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



def git_commit(folder: Path | None = None) -> str:
    """The checkout's commit, with "-dirty" when tracked files differ from it. Outside git (a copy of the
    tree on a machine without the repository): $DIFF2IN1_GIT_COMMIT, the commit the copy was made from,
    else "unknown"."""
    where = str(folder or Path(__file__).resolve().parent)
    copied = os.environ.get("DIFF2IN1_GIT_COMMIT", "").strip()
    try:
        commit = subprocess.run(["git", "-C", where, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return copied or "unknown"
    return commit + ("-dirty" if dirty else "")


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
           "improve_views_vs_control_streamed": "{:.2f}x the control's step",
           "improve_views_vs_control_cached": "{:.2f}x the control's step",
           "improve_views_cached_vs_streamed": "{:.2f}x faster cached",
           "improve_release_vs_control_streamed": "{:.2f}x the control's step",
           "creation_images_per_s": "{:.3f} images/s", "creation_s_per_image_step": "{:.4f} s",
           "bare_unet_s_per_image_step": "{:.4f} s", "creation_vs_bare_unet": "{:.3f}", "peak_memory_mb": "{:.0f} MB"}
    for key, pattern in fmt.items():
        if key in results:
            target = TARGETS.get(key)
            mark = "" if target is None else f">= {target} ({'met' if results[key] >= target else 'MISSED'})"
            rows.append((key, pattern.format(results[key]), mark))
    for group in ("warmup_step_images_per_s", "improve_step_s", "improve_unet_images_per_step",
                  "breakdown"):
        for key, value in results.get(group, {}).items():
            rows.append((f"{group}.{key}", f"{value:.3g}", ""))
    for key, value in results.get("warmup_epoch_s", {}).items():
        rows.append((f"warmup_epoch_s.{key}", f"{value:.2f} s", ""))
    lines = ["| measure | value | target |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"

