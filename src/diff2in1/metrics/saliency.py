"""Saliency accuracy: maxF (beta^2 = 0.3) and mean IoU at the threshold 0.5.

The prediction is a per-pixel probability, the ground truth salient where >= 0.5. For each threshold t
(default 0.01, 0.02, ..., 0.99) the pixels with p >= t are salient; true and false positives and false
negatives are pooled over all pixels of the data set; P(t) = TP / (TP + FP), R(t) = TP / (TP + FN) and
F(t) = (1 + b2) P R / (b2 P + R) with b2 = 0.3, which weighs precision more, as the salient-object
literature and the multi-task works do; maxF = max_t F(t). ``miou`` is the mean of the salient and the
background class IoU at t = 0.5, over the pooled pixels.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._shapes import as_bhw, check_same_shape

SALIENCY_KEYS: tuple[str, ...] = ("maxF", "miou", "threshold")
SALIENCY_THRESHOLDS = tuple(round(0.01 * k, 2) for k in range(1, 100))
BETA2 = 0.3


class SaliencyAccumulator:
    """Per-threshold TP / FP / FN / TN pixel counts over a data set.

    Args:
        thresholds: probability cuts (default 0.01 ... 0.99; 0.5 is added when missing, for ``miou``).
        beta2: beta^2 of the F-measure (0.3).
    """

    def __init__(self, thresholds: tuple[float, ...] = SALIENCY_THRESHOLDS, beta2: float = BETA2):
        self.thresholds = torch.tensor(sorted(set(float(t) for t in thresholds) | {0.5}), dtype=torch.float64)
        self.beta2 = float(beta2)
        k = len(self.thresholds)
        self.tp, self.fp = torch.zeros(k, dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
        self.positives = self.negatives = 0.0

    def update(self, pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> None:
        """pred: Bx1xHxW probability; gt: Bx1xHxW, salient where >= 0.5; mask: BxHxW, True = scored."""
        pred, gt = as_bhw(pred, "saliency pred").detach().double().cpu(), as_bhw(gt, "saliency gt").double().cpu()
        check_same_shape(gt, "saliency gt", pred, "pred")
        keep = torch.ones_like(gt, dtype=torch.bool) if mask is None else as_bhw(mask, "saliency mask").bool().cpu()
        p, salient = pred[keep], gt[keep] >= 0.5
        # how many thresholds each pixel passes: a pixel passes t_k for every k below this count
        passed = torch.searchsorted(self.thresholds, p, right=True)
        k = len(self.thresholds)
        at_least = lambda idx: torch.bincount(idx, minlength=k + 1).flip(0).cumsum(0).flip(0)[1:]  # noqa: E731
        self.tp += at_least(passed[salient]).double()
        self.fp += at_least(passed[~salient]).double()
        self.positives += float(salient.sum())
        self.negatives += float((~salient).sum())

    def compute(self) -> dict[str, float]:
        """maxF, miou at 0.5 and the threshold of maxF (NaN when nothing was added)."""
        if self.positives + self.negatives == 0:
            return {key: math.nan for key in SALIENCY_KEYS}
        precision = self.tp / (self.tp + self.fp).clamp_min(1)
        recall = self.tp / max(self.positives, 1.0)
        f = (1 + self.beta2) * precision * recall / (self.beta2 * precision + recall).clamp_min(1e-12)
        best = int(f.argmax())
        half = int((self.thresholds == 0.5).nonzero()[0])
        tp, fp = float(self.tp[half]), float(self.fp[half])
        fn, tn = self.positives - tp, self.negatives - fp
        ious = [v for v in (tp / (tp + fp + fn) if tp + fp + fn else None,
                            tn / (tn + fn + fp) if tn + fn + fp else None) if v is not None]
        return {"maxF": float(f[best]), "miou": sum(ious) / len(ious), "threshold": float(self.thresholds[best])}


def saliency_metrics(pred: Tensor, gt: Tensor, mask: Tensor | None = None, **options) -> dict[str, float]:
    """maxF and miou of one batch (shapes as ``SaliencyAccumulator.update``)."""
    accumulator = SaliencyAccumulator(**options)
    accumulator.update(pred, gt, mask)
    return accumulator.compute()
