"""Pieces of the head-training loops (warm-up and improve): optimizer, schedule, logs, resumable state.

The train state (``OUT/train_state/``) holds what an exact resume needs: the modules, the optimizer, the
schedule, the step, the EMA's call counter, the data order (its seed and global batch size: batches are
drawn per step from them) and every process's random state. A resumed run cuts ``log.csv`` and
``eval.csv`` back to the saved step, so the steps between that save and a kill are logged once.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..fileio import load_tensors
from ..perception.checkpoint import LEGACY_THETA_C, THETA_C
from .checkpoint import load_checkpoint, save_checkpoint
from .ema import EMA

STATE_DIR = "train_state"


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, steps: int, warmup: int,
                   schedule: str = "cosine", extra_groups: list[dict[str, Any]] | None = None):
    """AdamW with a linear warm-up, then cosine decay to 1% of ``lr`` (or ``schedule='constant'``);
    ``extra_groups``: further parameter groups (their own ``lr``) that follow the same schedule."""
    groups = [{"params": [p for p in model.parameters() if p.requires_grad]}, *(extra_groups or [])]
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)

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

    def cut(self, step: int) -> None:
        """Drop the rows after ``step`` (written by a run killed after its last save), atomically."""
        if not self.path.is_file():
            return
        with open(self.path, newline="") as handle:
            reader = csv.DictReader(handle)
            fields, rows = reader.fieldnames or [], [r for r in reader if int(r["step"]) <= step]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path)


def flat_metrics(metrics: dict[str, dict[str, float]], prefix: str = "") -> dict[str, float]:
    return {f"{prefix}{task}/{key}": value for task, values in metrics.items() for key, value in values.items()}


def rng_states(accelerator) -> dict[str, torch.Tensor]:
    """Every process's random state (CPU, and CUDA when used), one row per process; call on all of them."""
    states = {"cpu": torch.get_rng_state()}
    if accelerator.device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(accelerator.device)
    return {k: accelerator.gather(v.to(accelerator.device)[None]).cpu() for k, v in states.items()}


def restore_rng(tensors: dict[str, torch.Tensor], accelerator, where: Path) -> None:
    if tensors["cpu"].shape[0] != accelerator.num_processes:
        warnings.warn(f"{where}: saved by {tensors['cpu'].shape[0]} processes, resumed on "
                      f"{accelerator.num_processes}: the random state starts afresh (batches do not change)",
                      stacklevel=3)
        return
    rank = accelerator.process_index
    torch.set_rng_state(tensors["cpu"][rank].to(torch.uint8))
    if "cuda" in tensors and accelerator.device.type == "cuda":
        torch.cuda.set_rng_state(tensors["cuda"][rank].to(torch.uint8), accelerator.device)


def save_train_state(run: Path, modules: dict[str, nn.Module], optimizer, schedule, step: int,
                     ema: EMA | None = None, data: dict[str, Any] | None = None,
                     rng: dict[str, torch.Tensor] | None = None) -> None:
    """Write OUT/train_state (main process only; ``rng`` from ``rng_states``, gathered on all)."""
    extra: dict[str, Any] = {"step": step, "schedule": schedule.state_dict()}
    if ema is not None:
        extra["ema"] = ema.state_dict()
    if data is not None:
        extra["data"] = data
    save_checkpoint(run / STATE_DIR, modules, optimizer, extra, tensors={"rng": rng} if rng else None)


def resume_train_state(run: Path, modules: dict[str, nn.Module], optimizer, schedule, ema: EMA | None = None,
                       data: dict[str, Any] | None = None, accelerator=None) -> int:
    """Load the latest state if the run has one; return the step to continue from (0 = fresh).

    ``data``: the data order of this run; a saved one that differs fails, naming both, since the resumed
    run would not see the batches the interrupted one would have.
    """
    folder = run / STATE_DIR
    if not (folder / "state.json").is_file():
        return 0
    info = load_checkpoint(folder, modules, optimizer, older_names={THETA_C: LEGACY_THETA_C})  # θC's older name
    saved = info.get("data")
    if data is not None and saved is not None and saved != data:
        raise ValueError(f"{folder / 'state.json'}: saved with data order {saved}, resumed with {data}; "
                         f"resume with the same --seed and --batch-size, or start a new --out")
    schedule.load_state_dict(info["schedule"])
    if ema is not None:  # states written before the counter was saved had one EMA call per step
        ema.load_state_dict(info.get("ema", {"calls": info["step"]}))
    if accelerator is not None and (folder / "rng.safetensors").is_file():
        restore_rng(load_tensors(folder / "rng.safetensors"), accelerator, folder)
    return int(info["step"])


def tracker_config(config: Any) -> dict[str, Any]:
    """The config as trackers accept it (numbers, strings, booleans: lists become text)."""
    from ..config import config_to_dict

    return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in config_to_dict(config).items()}


class RunLog:
    """log.csv and eval.csv, and accelerate's trackers (``--log-with``), written by the main process only.

    ``resume_step`` > 0 cuts both CSV files back to it: the steps a killed run logged after its last save
    are run, and logged, again.
    """

    def __init__(self, accelerator, out: Path, name: str, config: Any, resume_step: int = 0):
        self.accelerator = accelerator
        self.main = accelerator.is_main_process
        self.train_csv, self.eval_csv = CsvLog(out / "log.csv"), CsvLog(out / "eval.csv")
        if self.main and resume_step:
            self.train_csv.cut(resume_step)
            self.eval_csv.cut(resume_step)
        self.tracking = bool(accelerator.log_with)
        if self.tracking:
            accelerator.init_trackers(name, config=tracker_config(config))

    def _track(self, row: dict[str, Any], prefix: str) -> None:
        if self.tracking:
            values = {f"{prefix}{k}": v for k, v in row.items() if k != "step" and isinstance(v, (int, float))}
            self.accelerator.log(values, step=int(row["step"]))

    def train(self, row: dict[str, Any]) -> None:
        if self.main:
            self.train_csv.write(row)
        self._track(row, "train/")

    def evaluation(self, row: dict[str, Any]) -> None:
        if self.main:
            self.eval_csv.write(row)
        self._track(row, "eval/")

    def close(self) -> None:
        if self.tracking:
            self.accelerator.end_training()
