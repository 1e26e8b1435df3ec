"""Each arm's matched-compute control and matched oracle, derived from the arm's settings.

An arm's matched control is the control that had the arm's budget, in real images only:
- the same total optimizer steps, in ONE schedule from the warm-up (one optimizer, one learning-rate
  schedule over the whole length; not a warm restart): the arm's stage, plus the stage it starts from
  (``"warmup": "{control}"``), plus the warm-up steps of every extra head its teacher averages;
- the same images per step: the arm's real images plus its samples without ground truth, all real and
  labelled (an arm with 8 real + 16 created per step is matched by 24 real per step; the labelled set
  repeats);
- the same views, EMA and learning rate (the release preset's settings, spelt out, for a release arm), and
  the same start when the arm starts from a checkpoint of its own (``"warmup": "{lora_warmup}"``).
What it does not have is the arm's teacher passes (θC and its heads labelling the pool), which cost
forward passes only.

The matched oracle is the arm's budget with ground truth in place of the teacher's targets: the same real
images and as many pool photos with their labels per step, over the matched control's steps, so that the
arm and its oracle share one control and ``matched_oracle_share`` is (control − arm) / (control − oracle).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from self_improve_arms import heads_wanted

# What a control does not keep from its arm: what the student learns from beyond the real labels (a control
# has none), and the budget and start, which the control gets anew.
NOT_KEPT = ("synthetic", "synthetic_from", "unlabelled", "unlabelled_limit", "unlabelled_labels", "pseudo_batch_size",
            "pseudo_weight", "pseudo_tasks", "semseg_threshold", "labels", "soft_labels", "teacher_views",
            "teacher_flip_weight", "teacher_heads", "teacher", "cos_mask", "view_shift", "preset", "warmup", "steps",
            "batch_size")


@dataclass(frozen=True)
class Budget:
    """The benchmark's defaults an arm's settings override: stage steps, real and pseudo samples per step
    (``diff2in1 improve``'s --batch-size and --pseudo-batch-size), and the warm-up's steps (an extra head's
    and the control's start)."""
    stage_steps: int
    batch_size: int
    pseudo_batch_size: int
    warmup_steps: int


def resolved(arm: dict, release_preset: dict | None = None) -> dict:
    """The arm's settings with a named preset's values spelt out (the arm's own settings win)."""
    if arm.get("preset") == "release":
        from diff2in1.self_improving.config import RELEASE_PRESET

        return {**(release_preset or RELEASE_PRESET), **{k: v for k, v in arm.items() if k != "preset"}}
    return dict(arm)


def has_pseudo(arm: dict) -> bool:
    """Whether the arm trains on samples without ground truth (created, unlabelled)."""
    return bool(arm.get("synthetic") or arm.get("unlabelled"))


def samples_per_step(arm: dict, budget: Budget) -> tuple[int, int]:
    """(real, without ground truth) samples of one of the arm's steps."""
    arm = resolved(arm)
    pseudo = arm.get("pseudo_batch_size", budget.pseudo_batch_size) if has_pseudo(arm) else 0
    return arm.get("batch_size", budget.batch_size), pseudo


def total_steps(arm: dict, budget: Budget) -> int:
    """Optimizer steps of the arm's head training: its stage, the stage it starts from, its extra heads."""
    start = budget.stage_steps if arm.get("warmup") == "{control}" else 0
    count, head_steps = heads_wanted(arm)
    return start + arm.get("steps", budget.stage_steps) + count * (head_steps or budget.warmup_steps)


def _kept(arm: dict) -> dict:
    """The arm's settings a control keeps (views, EMA, learning rate...), and the arm's start when it is a
    checkpoint of its own (a warm-up that trained the backbone) rather than the control's end."""
    settings = resolved(arm)
    kept = {k: v for k, v in settings.items() if k not in NOT_KEPT}
    if settings.get("warmup", "{control}") != "{control}":
        kept["warmup"] = settings["warmup"]
    return kept


def _name(prefix: str, kept: dict) -> str:
    """A name that tells matched runs apart: the budget in the prefix, the start when it is the arm's own
    ("_from_lora_warmup"), a digest of any other setting."""
    start = kept.get("warmup")
    rest = {k: v for k, v in kept.items() if k != "warmup"}
    name = prefix + (f"_from_{start.strip('{}')}" if start else "")
    if not rest:
        return name
    digest = hashlib.sha1(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:6]
    return f"{name}_{digest}"


def matched_control(arm: dict, budget: Budget) -> tuple[str, dict]:
    """(name, settings) of the arm's matched control: e.g. ("control_b24_s6000", {...}) for 8 real + 16
    created per step over a 1500-step stage and three extra heads of 1500 warm-up steps."""
    real, pseudo = samples_per_step(arm, budget)
    steps = total_steps(arm, budget)
    kept = _kept(arm)
    settings = {**kept, "pseudo_batch_size": 0, "synthetic": "", "unlabelled": "", "batch_size": real + pseudo,
                "steps": steps}
    return _name(f"control_b{real + pseudo}_s{steps}", kept), settings


def matched_oracle(arm: dict, budget: Budget, pool: str = "{pool}") -> tuple[str, dict]:
    """(name, settings) of the arm's matched oracle: its real images and as many pool photos with their
    ground truth per step, over its matched control's steps, from the warm-up."""
    real, pseudo = samples_per_step(arm, budget)
    if not pseudo:
        raise ValueError("an arm without samples beyond the labelled ones has no oracle: nothing to label")
    steps = total_steps(arm, budget)
    kept = _kept(arm)
    settings = {**kept, "synthetic": "", "unlabelled": pool, "unlabelled_labels": "ground_truth",
                "batch_size": real, "pseudo_batch_size": pseudo, "steps": steps}
    return _name(f"oracle_b{real}_p{pseudo}_s{steps}", kept), settings
