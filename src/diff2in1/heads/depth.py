"""Metric depth head with the scale-invariant log loss (VPD / AdaBins variant)."""

from __future__ import annotations

import numpy as np
import torch

from ..tasks import DEPTH
from .aggregator import Fused
from .base import TaskHead, UpsampleDecoder, check_mask, zero_loss
from .pictures import depth_to_rgb

SILOG_LAMBDA = 0.85
MIN_DEPTH = 1e-3  # metres; floor for the log in the loss, sigmoid can underflow to 0 in float32


def silog_loss(pred: torch.Tensor, gt: torch.Tensor, lam: float = SILOG_LAMBDA) -> torch.Tensor:
    """Scale-invariant log loss, ``10 * sqrt(mean(g^2) - lam * mean(g)^2)``, g = log(pred) - log(gt).

    Args:
        pred, gt: 1-D tensors of the valid pixels' depths (metres, > 0), pooled over the batch as in VPD.
        lam: 0.85 as in VPD / AdaBins; 1 would make the loss fully scale invariant.

    Returns:
        Scalar >= 0.
    """
    g = torch.log(pred.clamp_min(MIN_DEPTH)) - torch.log(gt.clamp_min(MIN_DEPTH))
    variance = g.square().mean() - lam * g.mean().square()
    # With lam < 1 the variance is >= 0 up to rounding; the floor keeps sqrt's gradient finite at 0.
    return 10.0 * torch.sqrt(variance.clamp_min(1e-12))


class DepthHead(TaskHead):
    """Predicts metric depth per pixel: depth = max_depth * sigmoid(x), in (0, max_depth) metres (as VPD).

    ``forward`` returns ``depth`` (Bx1xHxW, metres). No per-pixel confidence.

    Args:
        max_depth: largest depth the head can predict, metres (10 for NYUv2 rooms).
        in_channels: channels of the fused feature map.
        mid_channels: channels of the fine-resolution part (default max(in_channels // 4, 16)).
    """

    task = DEPTH

    def __init__(
        self, max_depth: float = 10.0, *, in_channels: int = 128, mid_channels: int | None = None
    ) -> None:
        super().__init__()
        if max_depth <= 0:
            raise ValueError(f"DepthHead: max_depth must be > 0 metres, got {max_depth}")
        self.max_depth = float(max_depth)
        self.decoder = UpsampleDecoder(in_channels, 1, mid_channels)

    def forward(self, fused: Fused | torch.Tensor, out_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """B x in_channels x h x w -> {"depth": Bx1xHxW metres in (0, max_depth)}, (H, W) = out_size."""
        return {"depth": self.max_depth * torch.sigmoid(self.decoder(fused, out_size))}

    def loss(self, pred: dict[str, torch.Tensor], target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """SILog over pixels that are in ``mask`` (BxHxW bool) and have ground truth > 0.

        Args:
            pred: output of ``forward``.
            target: Bx1xHxW (or BxHxW) ground-truth depth, metres; 0 = invalid.
            mask: BxHxW bool, True = valid.
        """
        depth = pred["depth"].float()[:, 0]
        gt = (target[:, 0] if target.ndim == 4 else target).to(depth.device).float()
        mask = check_mask(mask, depth, "DepthHead.loss") & (gt > 0)
        if not mask.any():
            return zero_loss(pred["depth"])
        return silog_loss(depth[mask], gt[mask])

    def default_mask(self, target: torch.Tensor) -> torch.Tensor:
        """Valid where the ground truth is finite and > 0."""
        gt = target[:, 0] if target.ndim == 4 else target
        return torch.isfinite(gt) & (gt > 0)

    def target_from_pred(self, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """Bx1xHxW depth in metres, detached."""
        return pred["depth"].detach()

    def confidence(self, pred: dict[str, torch.Tensor]) -> None:
        """None: this head has no per-pixel confidence."""
        return None

    def average_with_mirror(self, pred: dict[str, torch.Tensor], mirrored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Mean depth of the two views."""
        return {"depth": (pred["depth"] + mirrored["depth"].flip(-1)) / 2}

    def to_picture(self, pred: dict[str, torch.Tensor]) -> np.ndarray:
        """BxHxWx3 uint8, colours fixed to [0, max_depth] so pictures of different images compare."""
        return depth_to_rgb(pred["depth"], vmin=0.0, vmax=self.max_depth)
