"""The one training loop: pretrain, warm-up and improve each hand it a loss, a periodic piece of work and a save.

    fit(Plan(steps, checkpoint_every, eval_every), trainer, log, "warmup",
        loss=lambda step: ..., evaluate=lambda: {...}, save=lambda: ..., stop=lambda: False)

Each step: ``loss(step)`` gives this process's loss on its shard of the step's global batch and its logs
(the loss runs its own forward under ``trainer.autocast()``, so what it computes outside the autocast,
frozen-backbone features say, keeps full precision); the logs are averaged over processes, the optimizer
steps (``TrainStep.step``), and every ``plan.log_every`` steps a log.csv row is written. Every
``plan.eval_every`` steps (and at the last with ``plan.eval_last``) ``evaluate()`` runs: the metrics it
returns make an eval.csv row, ``None`` writes none (pretrain's sample grids). Every ``plan.checkpoint_every``
steps, at the last, and when ``stop()`` says so (pretrain's ``--max-minutes``; it must agree on every
process) ``save()`` writes the resumable state; after a stop the loop ends early. A resumed run enters
with ``trainer.steps`` at the step it stopped and draws what the interrupted one would have drawn (the
losses seed their draws by step).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

from .loop import RunLog
from .step import TrainStep


@dataclass
class Plan:
    """When ``fit`` stops, logs, evaluates and saves. ``show``: the log the progress bar shows;
    ``seconds``: whether log.csv rows carry the seconds since the loop started."""

    steps: int
    checkpoint_every: int
    eval_every: int = 0
    eval_last: bool = False
    log_every: int = 1
    show: str = "total"
    seconds: bool = True
    progress: bool = True

    def evaluates(self, step: int) -> bool:
        if step == self.steps:
            return self.eval_last
        return bool(self.eval_every) and step % self.eval_every == 0


def fit(plan: Plan, trainer: TrainStep, log: RunLog, desc: str,
        loss: Callable[[int], tuple[torch.Tensor, dict[str, float]]],
        evaluate: Callable[[], dict[str, float] | None], save: Callable[[], None],
        stop: Callable[[], bool] = lambda: False) -> None:
    """Train ``trainer`` from its ``steps`` to ``plan.steps``; see the module docstring."""
    bar = tqdm(total=plan.steps, initial=trainer.steps, desc=desc, disable=not plan.progress)
    start = time.time()
    while trainer.steps < plan.steps:
        trainer.model.train()
        value, logs = loss(trainer.steps)
        logs = {**trainer.mean(logs), **trainer.step(value)}
        step, stopping = trainer.steps, stop()
        bar.update()
        bar.set_postfix(loss=f"{logs[plan.show]:.3f}")
        if step % plan.log_every == 0:
            seconds = {"seconds": round(time.time() - start, 2)} if plan.seconds else {}
            log.train({"step": step, **logs, **seconds})
        if plan.evaluates(step) and (row := evaluate()) is not None:
            log.evaluation({"step": step, **row})
        if step % plan.checkpoint_every == 0 or step == plan.steps or stopping:
            save()
        if stopping:
            break
    bar.close()
