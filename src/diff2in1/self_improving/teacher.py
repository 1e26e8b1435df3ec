"""θC's targets for samples without labels: an ensemble over views, mapped into the student's view.

The teacher sees every view in ``teacher_views`` of a sample (the clean image, its mirror, perturbed crops,
another noise draw); each view's prediction is mapped back to the full frame and averaged where the view
covers it. The student sees one view and is trained towards the ensemble warped into that view, so the
teacher knows more than the student's own forward pass: that difference is what the student learns.

Soft targets per task: ``normal`` (unit mean direction) with ``weight`` = θC's mean κ over its batch mean,
``depth`` (mean over views), ``probs`` (mean class probabilities) with ``semseg`` their argmax;
``edge`` and ``saliency`` (mean probability); ``human_parts_probs`` with ``human_parts`` their argmax.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..heads import PerceptionModel
from ..tasks import BINARY_TASKS, DEPTH, HUMAN_PARTS, NORMAL, SEMSEG
from ..training.feature_cache import FeatureCache
from ..training.tables import DiskStore, RamStore
from .views import ViewParams, is_unperturbed, unwarp_predictions, view_params, warp_targets


def soft_predictions(model: PerceptionModel, features: list[torch.Tensor], size: tuple[int, int]) -> dict:
    """{normal Bx3xHxW, kappa Bx1xHxW, depth Bx1xHxW, probs BxCxHxW} for the model's tasks."""
    preds = model(features, size)
    out = {}
    if NORMAL in preds:
        out["normal"], out["kappa"] = preds[NORMAL]["normal"].float(), preds[NORMAL]["kappa"].float()
    if DEPTH in preds:
        out["depth"] = preds[DEPTH]["depth"].float()
    if SEMSEG in preds:
        out["probs"] = preds[SEMSEG]["logits"].float().softmax(dim=1)
    for task in BINARY_TASKS:
        if task in preds:
            out[task] = preds[task][task].float()
    if HUMAN_PARTS in preds:
        out[PARTS_PROBS] = preds[HUMAN_PARTS]["logits"].float().softmax(dim=1)
    return out


PARTS_PROBS = "human_parts_probs"


def _more_predictions(mean: dict) -> dict:
    """The ensemble's mean probabilities of boundaries, saliency and parts as head outputs."""
    preds = {task: {"logits": torch.logit(mean[task].clamp(1e-6, 1 - 1e-6)), task: mean[task]}
             for task in BINARY_TASKS if task in mean}
    if PARTS_PROBS in mean:
        logits = mean[PARTS_PROBS].clamp_min(1e-8).log()
        preds[HUMAN_PARTS] = {"logits": logits, HUMAN_PARTS: logits.argmax(dim=1)}
    return preds


def _more_targets(mean: dict, covered: torch.Tensor, targets: dict) -> None:
    """θC's soft targets of boundaries and saliency (mean probability) and parts (mean probabilities)."""
    for task in BINARY_TASKS:
        if task in mean:
            targets[task] = mean[task]
            targets["weight"][task] = torch.maximum(mean[task], 1 - mean[task])[:, 0]
            targets["mask"][task] = covered
    if PARTS_PROBS in mean:
        targets[PARTS_PROBS] = mean[PARTS_PROBS]
        targets[HUMAN_PARTS] = mean[PARTS_PROBS].argmax(dim=1)
        targets["weight"][HUMAN_PARTS] = mean[PARTS_PROBS].amax(dim=1)
        targets["mask"][HUMAN_PARTS] = covered


class HeadEnsemble(torch.nn.Module):
    """Several perception heads on the same features, averaged: θC with heads trained on the same labels from
    other seeds (a deep ensemble). Its output has a PerceptionModel's keys; the normal is the members' mean
    direction, left unnormalised so that ``ensemble_targets`` reads the members' disagreement as it reads the
    views', and the logits are the log of the members' mean class probabilities."""

    def __init__(self, members: list[PerceptionModel]):
        super().__init__()
        if not members or any(m.tasks != members[0].tasks for m in members):
            raise ValueError(f"HeadEnsemble: needs heads with the same tasks, got {[m.tasks for m in members]}")
        self.members = torch.nn.ModuleList(members)
        self.tasks = members[0].tasks

    def forward(self, features: list[torch.Tensor], size: tuple[int, int]) -> dict:
        outs = [soft_predictions(member, features, size) for member in self.members]
        mean = {key: torch.stack([o[key] for o in outs]).mean(dim=0) for key in outs[0]}
        preds: dict = {}
        if "normal" in mean:
            preds[NORMAL] = {"normal": mean["normal"], "kappa": mean["kappa"]}
        if "depth" in mean:
            preds[DEPTH] = {"depth": mean["depth"]}
        if "probs" in mean:
            preds[SEMSEG] = {"logits": mean["probs"].clamp_min(1e-8).log()}
        return {**preds, **_more_predictions(mean)}


@torch.no_grad()
def ensemble_targets(model: PerceptionModel, store: FeatureCache, indices: torch.Tensor, views: list[int],
                     size: tuple[int, int], flip_weight: float = 1.0) -> dict:
    """θC's full-frame targets for images ``indices`` of ``store``, averaged over ``views``; the image and its
    mirror (any noise draw) count ``flip_weight`` times as much as each perturbed crop."""
    was_training = model.training
    model.eval()
    total: dict[str, torch.Tensor] = {}
    cover = None
    for view in views:
        per = torch.full_like(indices, view)
        preds = soft_predictions(model, store.get(indices, per), size)
        back, coverage = unwarp_predictions(preds, view_params(store.views, store.keys, indices, per))
        if is_unperturbed(view):
            coverage = coverage * flip_weight
        weight = coverage[:, None]
        for key, value in back.items():
            total[key] = total.get(key, 0) + value * weight
        cover = coverage if cover is None else cover + coverage
    model.train(was_training)
    assert cover is not None
    mean = {key: value / cover.clamp_min(1e-6)[:, None] for key, value in total.items()}
    return _targets(mean, cover > 0.5 * min(1.0, flip_weight))


def _targets(mean: dict, covered: torch.Tensor) -> dict:
    targets: dict = {"mask": {}, "weight": {}}
    if "normal" in mean:
        agreement = mean["normal"].norm(dim=1)  # 1 when every view agrees, smaller where they differ
        targets[NORMAL] = F.normalize(mean["normal"], dim=1, eps=1e-6)
        kappa = mean["kappa"][:, 0] * agreement
        targets["weight"][NORMAL] = kappa / kappa[covered].mean().clamp_min(1e-6) if covered.any() else kappa
        targets["mask"][NORMAL] = covered
    if "depth" in mean:
        targets[DEPTH] = mean["depth"]
        targets["mask"][DEPTH] = covered
    if "probs" in mean:
        targets["probs"] = mean["probs"]
        targets[SEMSEG] = mean["probs"].argmax(dim=1)
        targets["weight"][SEMSEG] = mean["probs"].amax(dim=1)
        targets["mask"][SEMSEG] = covered
    _more_targets(mean, covered, targets)
    return targets


def targets_in_view(targets: dict, view: ViewParams) -> dict:
    """Full-frame targets as the student sees them in ``view`` (see ``views.warp_targets``)."""
    return warp_targets(targets, view)


class TargetBank:
    """θC's ensemble targets of a whole pool, refreshed every few steps instead of every step.

    θC moves slowly (an EMA with a horizon of hundreds of steps), so targets a few dozen steps old differ
    little from fresh ones, and labelling the pool in batches of 32 costs a fraction of labelling 8
    samples each step. Targets are kept in float16, one entry per sample, in RAM or, with ``folder``, in
    memory-mapped files there (``tables.DiskStore``: RAM does not grow with the pool).
    """

    def __init__(self, store: FeatureCache, views: list[int], size: tuple[int, int], batch_size: int = 32,
                 folder: str | Path | None = None, flip_weight: float = 1.0):
        self.store, self.views, self.size, self.batch_size = store, views, size, batch_size
        self.flip_weight = flip_weight
        num = len(store.keys)
        self.table = DiskStore(folder, num, 1) if folder else RamStore(num, 1)
        self.layout: list[tuple[str, str | None, torch.dtype]] = []  # (key, task or None, dtype) per level
        self.filled = False

    def refresh(self, model: PerceptionModel) -> None:
        for start in range(0, len(self.store.keys), self.batch_size):
            rows = torch.arange(start, min(start + self.batch_size, len(self.store.keys)))
            levels = self._flatten(ensemble_targets(model, self.store, rows, self.views, self.size,
                                                    self.flip_weight))
            for row, index in enumerate(rows.tolist()):
                self.table.write(index, 0, [level[row] for level in levels])
        self.filled = True

    def _flatten(self, targets: dict) -> list[torch.Tensor]:
        if not self.layout:
            self.layout = [(key, None, v.dtype) if torch.is_tensor(v) else (key, task, v[task].dtype)
                           for key, v in targets.items() for task in ([None] if torch.is_tensor(v) else v)]
        return [(targets[key] if task is None else targets[key][task]).detach().cpu().half()
                for key, task, _ in self.layout]

    def get(self, rows: torch.Tensor, device: torch.device) -> dict:
        levels = self.table.read(rows, torch.zeros_like(rows))
        out: dict = {}
        for (key, task, dtype), level in zip(self.layout, levels):
            value = _restore(level.to(device), dtype)
            if task is None:
                out[key] = value
            else:
                out.setdefault(key, {})[task] = value
        return out


def _restore(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.bool:
        return x > 0.5
    return x.float() if dtype.is_floating_point else x.round().to(dtype)
