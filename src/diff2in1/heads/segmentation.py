"""Semantic-segmentation head: per-pixel class logits trained with cross-entropy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..tasks import IGNORE_INDEX, SEMSEG
from .aggregator import Fused
from .base import TaskHead, UpsampleDecoder, check_mask, zero_loss
from .pictures import semseg_to_rgb


class SegmentationHead(TaskHead):
    """Predicts class logits per pixel.

    ``forward`` returns ``logits`` (BxCxHxW, C = num_classes) and, under the task's name (``semseg``),
    the argmax (BxHxW int64).

    Args:
        num_classes: number of classes (labels 0 .. num_classes-1; 255 = ignore).
        in_channels: channels of the fused feature map.
        mid_channels: channels of the fine-resolution part (default max(in_channels // 4, 16)).
    """

    task = SEMSEG

    def __init__(self, num_classes: int, *, in_channels: int = 128, mid_channels: int | None = None) -> None:
        super().__init__()
        if not 1 <= int(num_classes) < IGNORE_INDEX:
            raise ValueError(
                f"SegmentationHead: num_classes must be in [1, {IGNORE_INDEX}), got {num_classes}"
            )
        self.num_classes = int(num_classes)
        self.decoder = UpsampleDecoder(in_channels, self.num_classes, mid_channels)

    def forward(self, fused: Fused | torch.Tensor, out_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """B x in_channels x h x w -> {"logits": BxCxHxW, "semseg": BxHxW int64}, (H, W) = out_size."""
        logits = self.decoder(fused, out_size)
        return {"logits": logits, self.task: logits.argmax(dim=1)}

    def loss(self, pred: dict[str, torch.Tensor], target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Cross-entropy averaged over pixels that are in ``mask`` and not labelled 255.

        Args:
            pred: output of ``forward``.
            target: BxHxW (or Bx1xHxW) integer labels in [0, num_classes) or 255.
            mask: BxHxW bool, True = valid.
        """
        logits = pred["logits"].float()
        labels = (target[:, 0] if target.ndim == 4 else target).to(logits.device).long()
        mask = check_mask(mask, logits, "SegmentationHead.loss")
        labels = torch.where(mask, labels, torch.full_like(labels, IGNORE_INDEX))
        # cross_entropy averages over zero pixels as 0/0 = NaN, hence the explicit case.
        if not (labels != IGNORE_INDEX).any():
            return zero_loss(pred["logits"])
        return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)

    def default_mask(self, target: torch.Tensor) -> torch.Tensor:
        """Valid where the label is not the ignore label 255."""
        labels = target[:, 0] if target.ndim == 4 else target
        return labels != IGNORE_INDEX

    def target_from_pred(self, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """BxHxW int64 argmax labels, detached."""
        return pred[self.task].detach()

    def confidence(self, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """BxHxW maximum softmax probability in (0, 1], detached."""
        return torch.softmax(pred["logits"].detach().float(), dim=1).amax(dim=1)

    def average_with_mirror(self, pred: dict[str, torch.Tensor], mirrored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Mean class probabilities of the two views (returned as log-probabilities in ``logits``)."""
        probs = (pred["logits"].softmax(dim=1) + mirrored["logits"].flip(-1).softmax(dim=1)) / 2
        logits = probs.clamp_min(1e-12).log()
        return {"logits": logits, self.task: logits.argmax(dim=1)}

    def to_picture(self, pred: dict[str, torch.Tensor]) -> np.ndarray:
        """BxHxWx3 uint8 with the fixed class palette."""
        return semseg_to_rgb(pred[self.task], self.num_classes)
