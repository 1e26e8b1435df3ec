"""Which model `diff2in1 run` exports: Diff-2-in-1's, or the control it trained beside, chosen on validation.

Each model's θC (the head the run reports) is scored on the validation split (the labelled images held
out by ``val_fraction``), on every task trained, by the task's headline metric in the task registry
(``tasks.TASK_SPECS``: normal mean angular error, depth abs_rel, segmentation mIoU, ...). The run config's
``choose_by`` names the rule (RULES):

- ``more_tasks_won`` (the default): Diff-2-in-1 when it is better than the control on more of those tasks
  than the control is better than it. It takes a gain on most tasks at the price of a loss on another.
- ``no_task_lost``: Diff-2-in-1 only when it is better on at least one task and worse on none, for a user
  who cannot afford a loss on any task and would rather give up a gain.

Otherwise (and on a tie) the control is chosen, since self-improvement has not shown a gain there. Without
a validation split, or without a control, nothing is chosen: Diff-2-in-1 is exported and ``chosen.on`` is
"none".

The chosen checkpoint is exported to RUN/model/ (``Diff2in1Pipeline.save_pretrained``: θE and θC; load the
chosen head with ``Diff2in1Pipeline.from_pretrained("RUN/model", which="theta_c")``).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from ..tasks import TASK_SPECS

MODELS = {"diff2in1": "improve", "control": "control"}  # the run folder's stage of each model
HEAD = "theta_c"
# each rule, and how the report says it (metrics.json's chosen record carries the words: the report layer
# sits below this one)
RULES = {"more_tasks_won": "by the better headline metric on more tasks",
         "no_task_lost": "only if better on a task's headline metric and worse on none"}
DEFAULT_RULE = "more_tasks_won"


def keep_validation_out(improve: Any) -> Any:
    """The improve config without the images created from the validation images: creation makes images from
    the whole labelled subset (it does not know the held-out part), and only those of the training part may
    train, else the model chosen on validation would have seen its images."""
    if improve.val_fraction and improve.synthetic_from == "any":
        return dataclasses.replace(improve, synthetic_from="labelled")
    return improve


def choose(scores: dict[str, dict[str, dict[str, float]]], rule: str = DEFAULT_RULE) -> tuple[str, dict[str, str]]:
    """("diff2in1" or "control", {task: which of the two wins it}) from each model's {task: {metric: value}},
    by ``rule`` (one of RULES).

    Tasks either model lacks or could not score (NaN: human parts on images without people) are skipped; a
    task where both score the same counts for neither.
    """
    if rule not in RULES:
        raise ValueError(f"choose_by '{rule}': choose from {list(RULES)}")
    wins: dict[str, str] = {}
    for task, spec in TASK_SPECS.items():
        metric, higher_wins = spec.headline
        ours, theirs = (scores[m].get(task, {}).get(metric) for m in ("diff2in1", "control"))
        if ours is None or theirs is None or not math.isfinite(ours) or not math.isfinite(theirs) or ours == theirs:
            continue
        wins[task] = "diff2in1" if (ours > theirs) == higher_wins else "control"
    ours_won, theirs_won = (sum(w == model for w in wins.values()) for model in ("diff2in1", "control"))
    ahead = ours_won > theirs_won if rule == "more_tasks_won" else ours_won > 0 and theirs_won == 0
    return ("diff2in1" if ahead else "control"), wins


def validation_scores(config: Any, run: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{model: {task: {metric: value}}} of each model's θC on the validation split of ``config`` (the run's
    improve config: data, labelled subset, val_fraction, backbone), opened as the improve stage opens it."""
    from ..perception.checkpoint import load_perception, read_perception_info
    from ..perception.evaluation import evaluate_each_on_its_weights
    from ..self_improving.improve import with_warmup_taps
    from ..training.head_training import HeadTraining

    trained = read_perception_info(config.warmup)["backbone"].get("trained")
    trainer = HeadTraining(dataclasses.replace(with_warmup_taps(config), eval_split="val"), Path(config.out),
                           train_backbone=trained)
    models = {model: load_perception(run / stage / "checkpoint", which="theta_c")[0].to(trainer.backbone.device)
              for model, stage in MODELS.items()}

    def weights_of(model: str):  # each model's θC on its own trained UNet weights
        return trainer.stored_unet(run / MODELS[model] / "checkpoint", "theta_c")

    return evaluate_each_on_its_weights(trainer.evaluate, models, weights_of if trained else None)


def choose_and_export(config: Any, run: Path, rule: str = DEFAULT_RULE) -> dict[str, Any]:
    """Choose between Diff-2-in-1 and the control on validation by ``rule``, export the choice to RUN/model/,
    and return metrics.json's ``chosen``: {"model", "on" ("val" or "none"), "rule", "rule_words", "head",
    "scores", "wins"[, "why"]}."""
    from ..perception.pipeline import Diff2in1Pipeline

    has_control = (run / "control" / "checkpoint").is_dir()
    if not config.val_fraction or not has_control:
        why = ("the run has no validation split (val_fraction is 0)" if not config.val_fraction
               else "the run trained no control (control: false)")
        print(f"run: {why}; exporting Diff-2-in-1 without a choice")
        chosen: dict[str, Any] = {"model": "diff2in1", "on": "none", "rule": rule, "rule_words": RULES[rule],
                                  "head": HEAD, "scores": {}, "wins": {}, "why": why}
    else:
        scores = validation_scores(config, run)
        model, wins = choose(scores, rule)
        chosen = {"model": model, "on": "val", "rule": rule, "rule_words": RULES[rule], "head": HEAD,
                  "scores": scores, "wins": wins}
        print(f"run: {model} chosen on validation by {rule} (task wins: {wins or 'none'})")
    pipe = Diff2in1Pipeline.from_pretrained(run / MODELS[chosen["model"]] / "checkpoint")
    pipe.save_pretrained(run / "model")
    return chosen
