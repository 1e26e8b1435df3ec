"""Checks of one `diff2in1 run` folder for bench/gpu_check.sh: finite losses, finite metrics, loadable checkpoints.

    python bench/gpu_check_run.py RUN_FOLDER DEVICE

Every loss column of the stages' log.csv is finite; every number in metrics.json is finite; each checkpoint
(warm-up, improve θE and θC, control) opens on DEVICE in float32 and with a half-precision backbone and
predicts finite labels. Prints one JSON line; exits 1 when a check fails.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch

from diff2in1.perception.pipeline import Diff2in1Pipeline

NOT_LOSSES = {"step", "lr", "seconds", "loss_scale", "grad_norm"}


def bad_losses(log: Path) -> list[str]:
    """``column@step`` of every non-finite loss in a stage's log.csv."""
    with log.open() as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return [f"{log}: no steps logged"]
    return [f"{key}@{row['step']}" for row in rows for key, value in row.items()
            if key not in NOT_LOSSES and value not in ("", None) and not math.isfinite(float(value))]


def bad_numbers(value: Any, path: str = "") -> list[str]:
    """Paths of the non-finite numbers in a JSON value."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in bad_numbers(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in bad_numbers(item, f"{path}/{index}")]
    return [path] if isinstance(value, float) and not math.isfinite(value) else []


def prediction_check(folder: Path, which: str, device: str, dtype: torch.dtype | None) -> str:
    """'' when the checkpoint opens and predicts finite labels, else what went wrong."""
    pipe = Diff2in1Pipeline.from_pretrained(folder, which=which, device=device, dtype=dtype)
    side = pipe.backbone.sample_size
    images = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(0))
    captions = ["a room"] * 2 if pipe.backbone.takes_text else None
    output = pipe(images, captions=captions, ensemble=2, output_type="pt")
    bad = [task for task in pipe.tasks if getattr(output, task).is_floating_point()
           and not torch.isfinite(getattr(output, task)).all()]
    return f"non-finite {bad}" if bad else ""


def check(run: Path, device: str) -> dict[str, Any]:
    half = torch.float16 if device.startswith("cuda") else torch.bfloat16
    result: dict[str, Any] = {"run": str(run), "device": device, "failures": []}
    for stage in ("warmup", "improve", "control"):
        if (run / stage / "log.csv").is_file():
            result["failures"] += [f"{stage} loss {p}" for p in bad_losses(run / stage / "log.csv")]
    metrics = json.loads((run / "metrics.json").read_text())
    result["failures"] += [f"metrics.json{p} not finite" for p in bad_numbers(metrics)]
    result["metrics"] = {name: {task: next(iter(values.values())) for task, values in metrics[name].items()}
                         for name in ("warmup", "diff2in1") if name in metrics}
    checkpoints = [("warmup", "theta_e"), ("improve", "theta_e"), ("improve", "theta_c"), ("control", "theta_e")]
    for stage, which in checkpoints:
        for dtype in (None, half):
            name = f"{stage}/{which}/{'fp32' if dtype is None else str(dtype).split('.')[-1]}"
            try:
                problem = prediction_check(run / stage / "checkpoint", which, device, dtype)
            except Exception as error:  # noqa: BLE001 (every failure is recorded, the others still run)
                problem = f"{type(error).__name__}: {error}"
            if problem:
                result["failures"].append(f"checkpoint {name}: {problem}")
    result["passed"] = not result["failures"]
    return result


if __name__ == "__main__":
    outcome = check(Path(sys.argv[1]), sys.argv[2])
    print(json.dumps(outcome))
    sys.exit(0 if outcome["passed"] else 1)
