"""θC's targets for samples without labels: an ensemble over views, mapped into the student's view.

The teacher sees every view in ``teacher_views`` of a sample (the clean image, its mirror, perturbed crops,
another noise draw); each view's prediction is mapped back to the full frame and averaged where the view
covers it. The student sees one view and is trained towards the ensemble warped into that view, so the
teacher knows more than the student's own forward pass: that difference is what the student learns.

Soft targets per task: ``normal`` (unit mean direction) with ``weight`` = θC's mean κ over its batch mean,
``depth`` (mean over views), ``probs`` (mean class probabilities) with ``semseg`` their argmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..heads import PerceptionModel
from ..tasks import DEPTH, NORMAL, SEMSEG
from .view_features import ViewFeatures
from .views import ViewParams, unwarp_predictions, warp_targets


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
    return out


@torch.no_grad()
def ensemble_targets(model: PerceptionModel, store: ViewFeatures, indices: torch.Tensor, views: list[int],
                     size: tuple[int, int]) -> dict:
    """θC's full-frame targets for images ``indices`` of ``store``, averaged over ``views``."""
    was_training = model.training
    model.eval()
    total: dict[str, torch.Tensor] = {}
    cover = None
    for view in views:
        per = torch.full_like(indices, view)
        preds = soft_predictions(model, store.get(indices, per), size)
        back, coverage = unwarp_predictions(preds, store.params(indices, per))
        weight = coverage[:, None]
        for key, value in back.items():
            total[key] = total.get(key, 0) + value * weight
        cover = coverage if cover is None else cover + coverage
    model.train(was_training)
    assert cover is not None
    mean = {key: value / cover.clamp_min(1e-6)[:, None] for key, value in total.items()}
    return _targets(mean, cover > 0.5)


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
    return targets


def targets_in_view(targets: dict, view: ViewParams) -> dict:
    """Full-frame targets as the student sees them in ``view`` (see ``views.warp_targets``)."""
    return warp_targets(targets, view)


class TargetBank:
    """θC's ensemble targets of a whole pool, refreshed every few steps instead of every step.

    θC moves slowly (an EMA with a horizon of hundreds of steps), so targets a few dozen steps old differ
    little from fresh ones, and labelling the pool in batches of 32 costs a fraction of labelling 8
    samples each step. Targets are kept on the CPU in float16 (masks as bool).
    """

    def __init__(self, store: ViewFeatures, views: list[int], size: tuple[int, int], batch_size: int = 32):
        self.store, self.views, self.size, self.batch_size = store, views, size, batch_size
        self.targets: dict = {}

    def refresh(self, model: PerceptionModel) -> None:
        parts = []
        for start in range(0, len(self.store.keys), self.batch_size):
            rows = torch.arange(start, min(start + self.batch_size, len(self.store.keys)))
            parts.append(_to_storage(ensemble_targets(model, self.store, rows, self.views, self.size)))
        self.targets = {key: (torch.cat([p[key] for p in parts]) if torch.is_tensor(parts[0][key]) else
                              {t: torch.cat([p[key][t] for p in parts]) for t in parts[0][key]}) for key in parts[0]}

    def get(self, rows: torch.Tensor, device: torch.device) -> dict:
        def load(x: torch.Tensor) -> torch.Tensor:
            x = x[rows].to(device)
            return x.float() if x.is_floating_point() else x
        return {key: (load(v) if torch.is_tensor(v) else {t: load(m) for t, m in v.items()})
                for key, v in self.targets.items()}


def _to_storage(targets: dict) -> dict:
    def store(x: torch.Tensor) -> torch.Tensor:
        return x.cpu().half() if x.is_floating_point() else x.cpu()
    return {key: (store(v) if torch.is_tensor(v) else {t: store(m) for t, m in v.items()}) for key, v in targets.items()}
