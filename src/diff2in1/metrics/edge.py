"""Boundary accuracy: the F-measure at the optimal data-set threshold (odsF), as the BSDS protocol
(Martin et al. 2004; Arbelaez et al. 2011) that the multi-task works score boundaries with.

For each threshold t the predicted boundary probability is cut at ``p >= t`` and thinned to one-pixel
lines (Zhang-Suen thinning, as BSDS thins with ``bwmorph(..., 'thin')``). Predicted and ground-truth
boundary pixels are matched one to one, a pair allowed when their Euclidean distance is at most the
tolerance radius, by a maximum bipartite matching (scipy's Hopcroft-Karp; BSDS's assignment also
minimises the distances, which leaves the number of matches, and so the scores, the same). Counts are
pooled over the data set per threshold: P(t) = matched / predicted, R(t) = matched / ground truth,
F(t) = 2PR / (P + R); odsF = max_t F(t), with P and R at that threshold reported too.

Defaults: thresholds 0.01, 0.02, ..., 0.99 (BSDS's 99); tolerance radius = ``max_dist`` x the image
diagonal with ``max_dist`` = 0.0075 (BSDS and PASCAL-Context in the multi-task works; they use 0.011 on
NYUD). On a 64x64 image the radius is 0.68 px: only exact matches count.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from torch import Tensor

from ._shapes import as_bhw, check_same_shape

EDGE_KEYS: tuple[str, ...] = ("odsF", "precision", "recall", "threshold")
EDGE_THRESHOLDS = tuple(round(0.01 * k, 2) for k in range(1, 100))
EDGE_MAX_DIST = 0.0075


def _neighbours(x: np.ndarray) -> list[np.ndarray]:
    """P2..P9 of Zhang-Suen (N, NE, E, SE, S, SW, W, NW) of each pixel of BxHxW bool, zero outside."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    h, w = x.shape[1:]
    at = [(0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0)]
    return [p[:, dy:dy + h, dx:dx + w] for dy, dx in at]


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of BxHxW (or HxW) bool masks to one-pixel-wide lines."""
    x = np.array(mask, dtype=bool)
    single = x.ndim == 2
    x = x[None] if single else x
    while True:
        changed = False
        for first in (True, False):
            n = _neighbours(x)
            count = sum(v.astype(np.int8) for v in n)
            transitions = sum((~n[i] & n[(i + 1) % 8]).astype(np.int8) for i in range(8))
            a, b = (n[0] & n[2] & n[4], n[2] & n[4] & n[6]) if first else (n[0] & n[2] & n[6], n[0] & n[4] & n[6])
            remove = x & (count >= 2) & (count <= 6) & (transitions == 1) & ~a & ~b
            if remove.any():
                x = x & ~remove
                changed = True
        if not changed:
            return x[0] if single else x


def matched_count(pred: np.ndarray, gt: np.ndarray, radius: float) -> int:
    """Pixels matched one to one between HxW bool boundary maps ``pred`` and ``gt`` within ``radius`` px."""
    py, px = np.nonzero(pred)
    if len(py) == 0 or not gt.any():
        return 0
    gt_index = np.full(gt.shape, -1, dtype=np.int64)
    gt_index[gt] = np.arange(int(gt.sum()))
    r = int(math.floor(radius))
    rows, cols = [], []
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx > radius * radius:
                continue
            y, x = py + dy, px + dx
            inside = (y >= 0) & (y < gt.shape[0]) & (x >= 0) & (x < gt.shape[1])
            hit = np.full(len(py), -1, dtype=np.int64)
            hit[inside] = gt_index[y[inside], x[inside]]
            rows.append(np.nonzero(hit >= 0)[0])
            cols.append(hit[hit >= 0])
    row, col = np.concatenate(rows), np.concatenate(cols)
    if len(row) == 0:
        return 0
    graph = csr_matrix((np.ones(len(row)), (row, col)), shape=(len(py), int(gt.sum())))
    return int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())


class EdgeAccumulator:
    """Per-threshold matched / predicted / ground-truth boundary pixel counts over a data set.

    Args:
        thresholds: probability cuts (default 0.01 ... 0.99).
        max_dist: tolerance radius as a fraction of the image diagonal (default 0.0075).
        radius: tolerance radius in pixels; overrides ``max_dist`` when given.
    """

    def __init__(self, thresholds: tuple[float, ...] = EDGE_THRESHOLDS, max_dist: float = EDGE_MAX_DIST,
                 radius: float | None = None):
        self.thresholds = tuple(float(t) for t in thresholds)
        self.max_dist, self.radius = float(max_dist), radius
        k = len(self.thresholds)
        self.matched, self.predicted, self.truth = np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64)

    def update(self, pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> None:
        """pred: Bx1xHxW boundary probability; gt: Bx1xHxW, boundary where >= 0.5; mask: BxHxW, True = scored."""
        pred, gt = as_bhw(pred, "edge pred").detach().float().cpu(), as_bhw(gt, "edge gt").float().cpu()
        check_same_shape(gt, "edge gt", pred, "pred")
        keep = torch.ones_like(gt, dtype=torch.bool) if mask is None else as_bhw(mask, "edge mask").bool().cpu()
        height, width = gt.shape[-2:]
        radius = self.max_dist * math.hypot(height, width) if self.radius is None else float(self.radius)
        probs, keep_np = pred.numpy(), keep.numpy()
        truths = (gt.numpy() >= 0.5) & keep_np
        for k, t in enumerate(self.thresholds):
            cut = thin(probs >= t) & keep_np
            self.predicted[k] += int(cut.sum())
            self.truth[k] += int(truths.sum())
            if radius < 1:  # only a pixel itself lies within the radius: matches are the overlap
                self.matched[k] += int((cut & truths).sum())
            else:
                self.matched[k] += sum(matched_count(cut[b], truths[b], radius) for b in range(len(cut)))

    def compute(self) -> dict[str, float]:
        """odsF, and the precision, recall and threshold where it is reached (NaN without boundaries)."""
        precision = self.matched / np.maximum(self.predicted, 1)
        recall = self.matched / np.maximum(self.truth, 1)
        f = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
        if self.truth.max(initial=0) == 0:
            return {key: math.nan for key in EDGE_KEYS}
        best = int(np.argmax(f))
        return {"odsF": float(f[best]), "precision": float(precision[best]), "recall": float(recall[best]),
                "threshold": self.thresholds[best]}


def edge_metrics(pred: Tensor, gt: Tensor, mask: Tensor | None = None, **options) -> dict[str, float]:
    """odsF of one batch (shapes as ``EdgeAccumulator.update``; options as its constructor)."""
    accumulator = EdgeAccumulator(**options)
    accumulator.update(pred, gt, mask)
    return accumulator.compute()
