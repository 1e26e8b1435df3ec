"""Pieces of the head-training loops (warm-up and improve): optimizer, schedule, logs, resumable state."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint

STATE_DIR = "train_state"


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, steps: int, warmup: int,
                   schedule: str = "cosine"):
    """AdamW with a linear warm-up, then cosine decay to 1% of ``lr`` (or ``schedule='constant'``)."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class CsvLog:
    """Append rows to a CSV file; the header comes from the first row's keys."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, row: dict[str, Any]) -> None:
        new = not self.path.is_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def flat_metrics(metrics: dict[str, dict[str, float]], prefix: str = "") -> dict[str, float]:
    return {f"{prefix}{task}/{key}": value for task, values in metrics.items() for key, value in values.items()}


def save_train_state(run: Path, modules: dict[str, nn.Module], optimizer, schedule, step: int) -> None:
    save_checkpoint(run / STATE_DIR, modules, optimizer, {"step": step, "schedule": schedule.state_dict()})


def resume_train_state(run: Path, modules: dict[str, nn.Module], optimizer, schedule) -> int:
    """Load the latest state if the run has one; return the step to continue from (0 = fresh)."""
    if not (run / STATE_DIR / "state.json").is_file():
        return 0
    info = load_checkpoint(run / STATE_DIR, modules, optimizer)
    schedule.load_state_dict(info["schedule"])
    return int(info["step"])
