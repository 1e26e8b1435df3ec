"""The one training loop of head training: warm-up and improve each hand it a loss, an evaluation and a save.

    fit(run, trainer, log, "warmup", loss=lambda step: ..., evaluate=lambda: {...}, save=lambda: ...)

Each step: ``loss(step)`` gives this process's loss on its shard of the step's global batch and its logs
(the loss runs its own forward under ``trainer.autocast()``, so what it computes outside the autocast,
frozen-backbone features say, keeps full precision); the logs are averaged over processes, the optimizer
steps (``TrainStep.step``), a log row is written; every ``--eval-every`` steps ``evaluate()`` gives an
eval.csv row, and every ``--checkpoint-every`` steps and at the last ``save()`` writes the resumable
state. A resumed run enters with ``trainer.steps`` at the step it stopped and draws what the interrupted
one would have drawn (the losses seed their draws by step).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from .head_training import HeadTraining
from .loop import RunLog
from .step import TrainStep


def fit(run: HeadTraining, trainer: TrainStep, log: RunLog, desc: str,
        loss: Callable[[int], tuple[torch.Tensor, dict[str, float]]],
        evaluate: Callable[[], dict[str, float]], save: Callable[[], None]) -> None:
    """Train ``trainer`` from its ``steps`` to ``run.config.steps``; see the module docstring."""
    config = run.config
    bar, start = run.progress_bar(desc, trainer.steps), time.time()
    while trainer.steps < config.steps:
        trainer.model.train()
        value, logs = loss(trainer.steps)
        logs = {**trainer.mean(logs), **trainer.step(value)}
        step = trainer.steps
        bar.update()
        bar.set_postfix(loss=f"{logs['total']:.3f}")
        log.train({"step": step, **logs, "seconds": round(time.time() - start, 2)})
        if config.eval_every and step % config.eval_every == 0 and step < config.steps:
            log.evaluation({"step": step, **evaluate()})
        if step % config.checkpoint_every == 0 or step == config.steps:
            save()
    bar.close()
