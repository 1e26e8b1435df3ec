"""One optimizer step that every training loop shares (pretrain, warm-up, improve), and who writes.

Under ``accelerate launch`` each process runs the same loop on its own shard of every batch; this module
holds the rules the loops follow so that they follow the same ones:

    trainer = TrainStep(accelerator, model, optimizer, schedule, ema=None, max_grad_norm=0.0, steps=resumed)
    with trainer.autocast():
        loss, logs = trainer.plain.loss(trainer.model(features, size), batch)   # forward: trainer.model
    logs = {**trainer.mean(logs), **trainer.step(loss)}                        # mean over processes
    if writes(trainer.accelerator):                                            # main process only
        log.write({"step": trainer.steps, **logs})

- ``TrainStep`` prepares the model and optimizer with accelerate (DDP across processes, the fp16 grad
  scaler), and ``step(loss)`` does backward (scaled under fp16), optional clipping (``max_grad_norm``
  > 0, unscaled first), optimizer step, schedule step, zero-grad and the EMA update of the unwrapped
  model. It returns {"lr": ...} plus "grad_norm" when clipping and "loss_scale" under fp16, and counts
  ``trainer.steps`` (from ``steps``, the step a resumed run continues from). ``after_backward`` runs
  between backward and the step (averaging a trained UNet's gradients over processes); ``ema_of``: the
  module the EMA follows when it is more than the model (the heads and a trained UNet part). A step the fp16 scaler
  skips (inf/NaN gradients) still counts and still moves the schedule. The schedule is not prepared:
  accelerate would step it once per process, and the learning rate must be a function of the step
  count alone for resume to be exact.
- ``make_accelerator(config, out)``: the run's Accelerator. On a machine without CUDA it is told so
  (``cpu=True``): accelerate then joins the processes of ``accelerate launch`` over gloo, where
  otherwise each would run alone and all would write the same files.
- ``writes(accelerator)``: the one process that writes logs, checkpoints, metrics, reports and shows
  progress bars.
- ``shard(size, accelerator)`` (``rows(size, index, num)``): the rows of a global batch of ``size`` that
  this process trains on. ``--batch-size`` is global (images per optimizer step, all processes
  together), so a run means the same on 1 or N processes; it must divide by the number of processes.
- ``step_seed(seed, step, rank)``: the seed of the draws of one step (rank 0: the global batch's, which
  every process draws alike) or of one process at one step, so a resumed run redraws what the
  interrupted one drew.

The train state (``loop.save_train_state``) is gathered on every process (``loop.rng_states``) and
written by the main one; ``loop.RunLog`` writes log.csv, eval.csv and the trackers on the main one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .ema import EMA


def make_accelerator(config: Any, out: Path):
    """The run's Accelerator: mixed precision, trackers (``--log-with``) writing under ``out``."""
    from accelerate import Accelerator

    log_with = [name for name in getattr(config, "log_with", "").split(",") if name] or None
    return Accelerator(mixed_precision=config.mixed_precision, cpu=not torch.cuda.is_available(),
                       log_with=log_with, project_dir=str(out))


def writes(accelerator) -> bool:
    """True on the process that writes files and shows progress (the main one)."""
    return accelerator.is_main_process


def rows(size: int, index: int = 0, num: int = 1) -> slice:
    """Process ``index`` of ``num``'s rows of a global batch of ``size`` rows (contiguous, equal parts)."""
    if size % num:
        raise ValueError(f"--batch-size {size} does not divide among {num} processes; it is the global batch "
                         f"(all processes together): choose a multiple of {num}")
    part = size // num
    return slice(index * part, (index + 1) * part)


def shard(size: int, accelerator) -> slice:
    """This process's rows of a global batch of ``size`` rows."""
    return rows(size, accelerator.process_index, accelerator.num_processes)


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """The seed of process ``rank``'s random draws at ``step``."""
    return (seed * 1_000_003 + step) * 1_009 + rank


class TrainStep:
    """The optimizer step of a training loop; see the module docstring."""

    def __init__(self, accelerator, model: nn.Module, optimizer: torch.optim.Optimizer, schedule,
                 ema: EMA | None = None, max_grad_norm: float = 0.0, steps: int = 0,
                 ema_of: nn.Module | None = None, after_backward: Callable[[], None] | None = None):
        self.accelerator, self.schedule, self.ema, self.max_grad_norm = accelerator, schedule, ema, max_grad_norm
        self.ema_of, self.after_backward = ema_of, after_backward
        self.model, self.optimizer = accelerator.prepare(model, optimizer)
        self.steps = steps  # optimizer steps taken, counting those before a resume
        if ema is not None:
            ema.shadow.to(accelerator.device)

    @property
    def plain(self) -> nn.Module:
        """The model without its DDP / mixed-precision wrappers: its own methods, saving, evaluation."""
        return self.accelerator.unwrap_model(self.model)

    def autocast(self) -> contextlib.AbstractContextManager:
        return self.accelerator.autocast()

    def step(self, loss: torch.Tensor) -> dict[str, float]:
        """Backward, clip, step, schedule, zero-grad, EMA; returns lr (+ grad_norm, loss_scale)."""
        logs: dict[str, float] = {}
        self.accelerator.backward(loss)
        if self.after_backward is not None:
            self.after_backward()
        if self.max_grad_norm > 0:
            norm = self.accelerator.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
            logs["grad_norm"] = float(norm)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.ema_of if self.ema_of is not None else self.plain)
        self.steps += 1
        logs["lr"] = self.schedule.get_last_lr()[0]
        scaler = self.accelerator.scaler
        if scaler is not None:
            logs["loss_scale"] = float(scaler.get_scale())
        return logs

    def mean(self, logs: dict[str, Any]) -> dict[str, Any]:
        """Float entries averaged over processes (what a log row reports); others unchanged."""
        keys = [k for k, v in logs.items() if isinstance(v, float)]
        if self.accelerator.num_processes == 1 or not keys:
            return dict(logs)
        values = torch.tensor([logs[k] for k in keys], dtype=torch.float64, device=self.accelerator.device)
        values = self.accelerator.reduce(values, reduction="mean")
        return {**logs, **{k: float(v) for k, v in zip(keys, values.tolist())}}
