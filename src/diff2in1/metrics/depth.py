"""Depth accuracy: the standard metrics of Eigen et al. (2014), per image, then averaged over images."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._shapes import as_bhw, check_same_shape

DEPTH_KEYS: tuple[str, ...] = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3")
MIN_DEPTH = 1e-3
"""Predictions are clamped to this many metres, so that logs and ratios stay finite."""


def per_image_depth_metrics(pred: Tensor, gt: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Depth metrics of each image over its valid pixels.

    pred, gt: BxHxW or Bx1xHxW, metres; mask: BxHxW (or Bx1xHxW) bool, true = valid. Pixels with gt <= 0
    or non-finite gt are invalid as well. Returns (float64 Bx8 metrics in ``DEPTH_KEYS`` order, bool B
    true for images with at least one valid pixel); rows of images without one are meaningless.
    """
    pred, gt, mask = as_bhw(pred, "depth pred"), as_bhw(gt, "depth gt"), as_bhw(mask, "depth mask")
    check_same_shape(gt, "depth gt", pred, "pred")
    check_same_shape(mask, "depth mask", pred, "pred")
    valid = mask.bool() & (gt > 0) & torch.isfinite(gt)
    # Invalid pixels get pred = gt = 1 so that every term is 0 there, not inf or NaN that 0 * x keeps.
    p = torch.where(valid, pred.double().clamp_min(MIN_DEPTH), 1.0)
    g = torch.where(valid, gt.double(), 1.0)
    count = valid.sum(dim=(1, 2))

    def image_mean(x: Tensor) -> Tensor:
        return x.sum(dim=(1, 2)) / count.clamp_min(1)

    diff = p - g
    log_diff = p.log() - g.log()
    ratio = torch.maximum(p / g, g / p)
    columns = [
        image_mean(diff.abs() / g),
        image_mean(diff.square() / g),
        image_mean(diff.square()).sqrt(),
        image_mean(log_diff.square()).sqrt(),
        image_mean((p.log10() - g.log10()).abs()),
        # ratio is 1 at invalid pixels, which would pass every threshold: count valid pixels only.
        *(image_mean(((ratio < 1.25**k) & valid).double()) for k in (1, 2, 3)),
    ]
    return torch.stack(columns, dim=1), count > 0


def depth_metrics(pred: Tensor, gt: Tensor, mask: Tensor) -> dict[str, float]:
    """Depth metrics of one batch: each image over its valid pixels, then the mean over images.

    pred, gt: BxHxW or Bx1xHxW, metres; mask: BxHxW bool, true = valid. Images without a valid pixel
    are skipped. Returns ``abs_rel``, ``sq_rel`` (metres), ``rmse`` (metres), ``rmse_log``, ``log10`` and
    ``d1``, ``d2``, ``d3`` (fractions 0-1 of pixels with max(pred/gt, gt/pred) < 1.25, 1.25^2, 1.25^3);
    all NaN when no image has a valid pixel.
    """
    per_image, has_valid = per_image_depth_metrics(pred, gt, mask)
    if not bool(has_valid.any()):
        return dict.fromkeys(DEPTH_KEYS, math.nan)
    means = per_image[has_valid].mean(dim=0).tolist()
    return dict(zip(DEPTH_KEYS, means))


class DepthAccumulator:
    """``depth_metrics`` over a whole data set, fed batch by batch: sums of per-image metrics and a count."""

    def __init__(self) -> None:
        self.sums = torch.zeros(len(DEPTH_KEYS), dtype=torch.float64)
        self.images = 0

    def update(self, pred: Tensor, gt: Tensor, mask: Tensor) -> None:
        """Add one batch; shapes and units as in ``depth_metrics``."""
        per_image, has_valid = per_image_depth_metrics(pred, gt, mask)
        self.sums += per_image[has_valid].sum(dim=0).cpu()
        self.images += int(has_valid.sum())

    def compute(self) -> dict[str, float]:
        """Mean over all images added so far; keys and units as ``depth_metrics``."""
        if self.images == 0:
            return dict.fromkeys(DEPTH_KEYS, math.nan)
        return dict(zip(DEPTH_KEYS, (self.sums / self.images).tolist()))
