"""What the per-pixel probability heads (boundaries, saliency) share: a logit per pixel, a weighted BCE."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .aggregator import Fused
from .base import TaskHead, UpsampleDecoder, check_mask, zero_loss
from .pictures import probability_to_rgb

PROB_EPS = 1e-6  # keeps the logit of a merged probability finite


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: float | None) -> torch.Tensor:
    """Mean binary cross-entropy of 1-D logits against 1-D targets in [0, 1] (soft targets allowed).

    ``pos_weight`` None: plain BCE. Otherwise the class-balanced BCE of HED and the multi-task works: a
    positive pixel weighs ``pos_weight``, a negative one ``1 - pos_weight`` (a soft target weighs in between).
    """
    per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    if pos_weight is None:
        return per_pixel.mean()
    weight = pos_weight * target + (1.0 - pos_weight) * (1.0 - target)
    return (weight * per_pixel).mean()


class BinaryHead(TaskHead):
    """Predicts the probability that a pixel belongs to the task's positive class.

    ``forward`` returns ``logits`` (Bx1xHxW) and, under the task's name, the probability (Bx1xHxW in (0, 1)).
    Ground truth: Bx1xHxW (or BxHxW) float in [0, 1]; 1 = positive; soft values (created labels) allowed.

    Args:
        in_channels: channels of the fused feature map.
        mid_channels: channels of the fine-resolution part (default max(in_channels // 4, 16)).
    """

    pos_weight: float | None = None

    def __init__(self, *, in_channels: int = 128, mid_channels: int | None = None) -> None:
        super().__init__()
        self.decoder = UpsampleDecoder(in_channels, 1, mid_channels)

    def forward(self, fused: Fused | torch.Tensor, out_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """B x in_channels x h x w -> {"logits": Bx1xHxW, task: Bx1xHxW probability}, (H, W) = out_size."""
        logits = self.decoder(fused, out_size)
        return {"logits": logits, self.task: torch.sigmoid(logits)}

    def loss(self, pred: dict[str, torch.Tensor], target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(Class-balanced) BCE over the pixels in ``mask`` (BxHxW bool)."""
        logits = pred["logits"].float()[:, 0]
        gt = (target[:, 0] if target.ndim == 4 else target).to(logits.device).float()
        mask = check_mask(mask, logits, f"{type(self).__name__}.loss")
        if not mask.any():
            return zero_loss(pred["logits"])
        return weighted_bce(logits[mask], gt[mask].clamp(0.0, 1.0), self.pos_weight)

    def default_mask(self, target: torch.Tensor) -> torch.Tensor:
        """Valid where the ground truth is finite (every pixel of a binary label has a value)."""
        gt = target[:, 0] if target.ndim == 4 else target
        return torch.isfinite(gt)

    def target_from_pred(self, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """Bx1xHxW probability in (0, 1), detached: created labels keep θC's soft belief."""
        return pred[self.task].detach()

    def confidence(self, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """BxHxW max(p, 1 - p) in [0.5, 1], detached."""
        prob = pred[self.task].detach().float()[:, 0]
        return torch.maximum(prob, 1.0 - prob)

    def average_with_mirror(self, pred: dict[str, torch.Tensor], mirrored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Mean probability of the two views (its logit in ``logits``)."""
        prob = (pred[self.task] + mirrored[self.task].flip(-1)) / 2
        return {"logits": torch.logit(prob.clamp(PROB_EPS, 1 - PROB_EPS)), self.task: prob}

    def to_picture(self, pred: dict[str, torch.Tensor]) -> np.ndarray:
        """BxHxWx3 uint8 grey, white = probability 1."""
        return probability_to_rgb(pred[self.task])
