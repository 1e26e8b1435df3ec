"""Losses of the student on θC's targets (samples without ground truth).

- ``soft``: normals by the angular vMF NLL with the student's κ detached (κ learns only from ground
  truth, never from its own teacher) and each pixel weighted by θC's confidence; depth by SILog per
  image (a created image's scale is its own, not pooled with real ones); segmentation and human parts by
  the cross-entropy against θC's class probabilities; boundaries and saliency by their heads' (balanced)
  BCE against θC's probabilities.
- ``hard``: the ground-truth losses on θC's hard labels (the release), optionally without the pixels where
  student and teacher already agree within ``cos_mask`` (the release drops cos > 0.999).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..heads import PerceptionModel
from ..heads.binary import weighted_bce
from ..heads.depth import silog_loss
from ..heads.edge import EDGE_POS_WEIGHT
from ..heads.normal import angular_vmf_nll
from ..tasks import DEPTH, EDGE, HUMAN_PARTS, NORMAL, SALIENCY, SEMSEG, check_tasks


def _normal_soft(pred: dict, targets: dict) -> torch.Tensor:
    mask = targets["mask"][NORMAL]
    n = pred["normal"].float().permute(0, 2, 3, 1)[mask]
    k = pred["kappa"].float()[:, 0][mask].detach()
    gt = targets[NORMAL].float().permute(0, 2, 3, 1)[mask]
    weight = targets["weight"][NORMAL][mask]
    return (angular_vmf_nll(n, k, gt) * weight).sum() / weight.sum().clamp_min(1e-6)


def _depth_per_image(pred: dict, targets: dict) -> torch.Tensor:
    losses = []
    for row in range(pred["depth"].shape[0]):
        mask = targets["mask"][DEPTH][row] & (targets[DEPTH][row, 0] > 0)
        if mask.any():
            losses.append(silog_loss(pred["depth"][row, 0].float()[mask], targets[DEPTH][row, 0].float()[mask]))
    return torch.stack(losses).mean() if losses else pred["depth"].sum() * 0


def _classes_soft(pred: dict, targets: dict, task: str = SEMSEG, key: str = "probs") -> torch.Tensor:
    mask = targets["mask"][task]
    log_probs = pred["logits"].float().log_softmax(dim=1)
    per_pixel = -(targets[key] * log_probs).sum(dim=1)
    return per_pixel[mask].mean() if mask.any() else pred["logits"].sum() * 0


def _binary_soft(pred: dict, targets: dict, task: str, pos_weight: float | None) -> torch.Tensor:
    mask = targets["mask"][task]
    if not mask.any():
        return pred["logits"].sum() * 0
    return weighted_bce(pred["logits"].float()[:, 0][mask], targets[task].float()[:, 0][mask], pos_weight)


SOFT = {NORMAL: _normal_soft, DEPTH: _depth_per_image, SEMSEG: _classes_soft,
        EDGE: lambda pred, targets: _binary_soft(pred, targets, EDGE, EDGE_POS_WEIGHT),
        SALIENCY: lambda pred, targets: _binary_soft(pred, targets, SALIENCY, None),
        HUMAN_PARTS: lambda pred, targets: _classes_soft(pred, targets, HUMAN_PARTS, "human_parts_probs")}


def agreement_mask(preds: dict, targets: dict, cos_mask: float, semseg_threshold: float = 0.0) -> dict:
    """Masks without the pixels where the student's normal is within ``cos_mask`` of θC's (0 = keep all), and
    without the segmentation pixels where θC's top class probability is below ``semseg_threshold``."""
    masks = dict(targets["mask"])
    if semseg_threshold and SEMSEG in masks and SEMSEG in targets.get("weight", {}):
        masks[SEMSEG] = masks[SEMSEG] & (targets["weight"][SEMSEG] >= semseg_threshold)
    if cos_mask and NORMAL in preds and NORMAL in targets:
        cos = F.cosine_similarity(preds[NORMAL]["normal"].detach().float(), targets[NORMAL].float(), dim=1)
        masks[NORMAL] = masks[NORMAL] & (cos < cos_mask)
    return masks


def pseudo_loss(model: PerceptionModel, preds: dict, targets: dict, soft: bool, cos_mask: float = 0.0,
                semseg_threshold: float = 0.0, tasks: list[str] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum over the model's tasks (or ``tasks`` of them, soft targets only) of the student's loss on
    θC's targets; logs as 'pseudo/<task>'."""
    targets = {**targets, "mask": agreement_mask(preds, targets, cos_mask, semseg_threshold)}
    if tasks and not set(model.tasks) <= set(tasks) and not soft:
        raise ValueError(f"pseudo-labels for some tasks only ({tasks}) need soft targets (--soft-labels)")
    if not soft:
        total, logs = model.loss(preds, targets)
        return total, {f"pseudo/{k}": v for k, v in logs.items()}
    if tasks:
        check_tasks(tasks, where="--pseudo-tasks")
    losses = {task: SOFT[task](preds[task], targets) for task in model.tasks if not tasks or task in tasks}
    if not losses:
        raise ValueError(f"pseudo-labels for tasks {tasks}: the model has none of them ({model.tasks})")
    total = model.weighting(losses)
    logs = {f"pseudo/{task}": float(loss.detach()) for task, loss in losses.items()}
    logs["pseudo/total"] = float(total.detach())
    return total, logs
