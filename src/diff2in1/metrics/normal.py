"""Surface-normal accuracy: angular error in degrees, pooled over all valid pixels of a data set.

Pooling follows Bae et al. (2021): every valid pixel of every image counts once, so large images weigh
more than small ones, and the median is the median of all pixels, not a mean of per-image medians.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ._shapes import as_bhw, check_same_shape

NORMAL_THRESHOLDS: tuple[float, ...] = (11.25, 22.5, 30.0)
"""Angles (degrees) for the ``a*`` keys: percentage of pixels with error strictly below each."""


def threshold_key(threshold: float) -> str:
    """Metric key for an angle threshold: 11.25 -> "a11.25", 30.0 -> "a30"."""
    return f"a{threshold:g}"


NORMAL_KEYS: tuple[str, ...] = ("mean", "median", "rmse", *(threshold_key(t) for t in NORMAL_THRESHOLDS))


def angular_error_deg(pred: Tensor, gt: Tensor) -> Tensor:
    """Per-pixel angle between predicted and ground-truth normals.

    pred, gt: Bx3xHxW, any length (both are normalised to unit length; a zero vector scores 90 deg).
    Returns float64 BxHxW in degrees, in [0, 180].
    """
    if pred.dim() != 4 or pred.shape[1] != 3:
        raise ValueError(f"normal pred: expected shape Bx3xHxW, found {tuple(pred.shape)}")
    check_same_shape(gt, "normal gt", pred, "pred")
    # float64: acos is ill-conditioned near cos = 1, and float32 rounding alone turns identical
    # normals into errors of ~0.02 deg, which would bias the a11.25 counts and the median.
    p = F.normalize(pred.double(), dim=1)
    g = F.normalize(gt.double(), dim=1)
    cos = (p * g).sum(dim=1).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))


def valid_angular_errors(pred: Tensor, gt: Tensor, mask: Tensor) -> Tensor:
    """1-D float64 tensor of the angular errors (degrees) of the pixels where ``mask`` (BxHxW bool) is true."""
    errors = angular_error_deg(pred, gt)
    mask = as_bhw(mask, "normal mask")
    check_same_shape(mask, "normal mask", errors, "pred's BxHxW")
    return errors[mask.bool()]


def exact_median(values: Tensor) -> float:
    """Median of a 1-D tensor, averaging the two middle values for an even count (as numpy does)."""
    ordered = values.flatten().sort().values
    n, mid = ordered.numel(), ordered.numel() // 2
    if n % 2:
        return float(ordered[mid])
    return float(ordered[mid - 1] + ordered[mid]) / 2


def _nan_result() -> dict[str, float]:
    return dict.fromkeys(NORMAL_KEYS, math.nan)


def normal_metrics(pred: Tensor, gt: Tensor, mask: Tensor) -> dict[str, float]:
    """Angular-error metrics of one batch, pooled over all its valid pixels.

    pred: Bx3xHxW (normalised here); gt: Bx3xHxW unit normals; mask: BxHxW bool, true = valid.
    Returns ``mean``, ``median``, ``rmse`` in degrees and ``a11.25``, ``a22.5``, ``a30`` in percent
    (0-100) of pixels with error below that angle; all NaN when no pixel is valid.
    """
    errors = valid_angular_errors(pred, gt, mask)
    if errors.numel() == 0:
        return _nan_result()
    result = {
        "mean": float(errors.mean()),
        "median": exact_median(errors),
        "rmse": math.sqrt(float(errors.square().mean())),
    }
    for t in NORMAL_THRESHOLDS:
        result[threshold_key(t)] = 100.0 * int((errors < t).sum()) / errors.numel()
    return result


class NormalAccumulator:
    """``normal_metrics`` over a whole data set, fed batch by batch, in bounded memory.

    ``mean``, ``rmse`` and the ``a*`` percentages are exact (running sums and counts). The median is read
    from a histogram of ``bin_deg``-wide bins over 0-180 deg (18000 bins by default, 144 kB), spreading each
    bin's errors evenly across it: it is within ``bin_deg`` (0.01 deg) of the exact pooled median.
    """

    def __init__(self, bin_deg: float = 0.01):
        self.bin_deg = bin_deg
        self.num_bins = math.ceil(180.0 / bin_deg)
        self.histogram = torch.zeros(self.num_bins, dtype=torch.int64)
        self.count = 0
        self.error_sum = 0.0
        self.squared_sum = 0.0
        self.below = [0] * len(NORMAL_THRESHOLDS)

    def update(self, pred: Tensor, gt: Tensor, mask: Tensor) -> None:
        """Add one batch; shapes and units as in ``normal_metrics``."""
        errors = valid_angular_errors(pred, gt, mask)
        bins = (errors / self.bin_deg).long().clamp(0, self.num_bins - 1)
        self.histogram += torch.bincount(bins, minlength=self.num_bins).cpu()
        below = [(errors < t).sum() for t in NORMAL_THRESHOLDS]
        # One transfer for all scalars, so a GPU batch costs one synchronisation, not six.
        stats = torch.stack([errors.sum(), errors.square().sum(), *(b.double() for b in below)]).cpu()
        self.count += errors.numel()
        self.error_sum += float(stats[0])
        self.squared_sum += float(stats[1])
        self.below = [old + int(new) for old, new in zip(self.below, stats[2:])]

    def _order_statistic(self, k: int) -> float:
        """Estimate of the k-th smallest error (1-based) from the histogram, in degrees."""
        cumulative = self.histogram.cumsum(0)
        b = int(torch.searchsorted(cumulative, torch.tensor(k)))
        before = int(cumulative[b - 1]) if b > 0 else 0
        # The j-th of the bin's m errors is placed at the centre of the j-th 1/m slice of the bin.
        return (b + (k - before - 0.5) / int(self.histogram[b])) * self.bin_deg

    def compute(self) -> dict[str, float]:
        """Metrics of everything added so far; keys and units as ``normal_metrics``."""
        n = self.count
        if n == 0:
            return _nan_result()
        if n % 2:
            median = self._order_statistic((n + 1) // 2)
        else:
            median = (self._order_statistic(n // 2) + self._order_statistic(n // 2 + 1)) / 2
        result = {"mean": self.error_sum / n, "median": median, "rmse": math.sqrt(self.squared_sum / n)}
        for t, below in zip(NORMAL_THRESHOLDS, self.below):
            result[threshold_key(t)] = 100.0 * below / n
        return result
