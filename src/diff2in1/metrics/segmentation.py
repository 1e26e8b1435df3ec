"""Semantic-segmentation accuracy from a confusion matrix: mean IoU and pixel accuracy."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..tasks import IGNORE_INDEX
from ._shapes import as_bhw, check_same_shape

SEGMENTATION_KEYS: tuple[str, ...] = ("miou", "pixel_acc")


def _check_ids(ids: Tensor, num_classes: int, name: str, ignore_index: int | None) -> None:
    if ids.numel() == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= num_classes:
        allowed = f"[0, {num_classes})" + (f" or {ignore_index} (ignored)" if name == "gt" else "")
        raise ValueError(
            f"semseg {name}: class ids must be in {allowed}, found values in [{low}, {high}]; "
            "check that num_classes matches the data set's classes in meta.json"
        )


def confusion_matrix(
    pred: Tensor, gt: Tensor, num_classes: int, ignore_index: int | None = IGNORE_INDEX
) -> Tensor:
    """Pixel counts by (ground-truth class, predicted class) over pixels whose gt is not ``ignore_index``.

    pred, gt: BxHxW (or Bx1xHxW) integer class ids. Returns int64 num_classes x num_classes on pred's
    device; rows are ground truth, columns prediction.
    """
    if pred.is_floating_point():
        raise ValueError(
            "semseg pred: expected integer class ids, found floats; take argmax over the class dimension"
        )
    pred, gt = as_bhw(pred, "semseg pred"), as_bhw(gt, "semseg gt")
    check_same_shape(gt, "semseg gt", pred, "pred")
    keep = gt != ignore_index if ignore_index is not None else torch.ones_like(gt, dtype=torch.bool)
    g, p = gt[keep].long(), pred[keep].long()
    _check_ids(g, num_classes, "gt", ignore_index)
    _check_ids(p, num_classes, "pred", ignore_index)
    counts = torch.bincount(g * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def scores_from_confusion(confusion: Tensor) -> dict[str, float]:
    """``miou`` and ``pixel_acc`` (fractions 0-1) of a confusion matrix (rows gt, columns prediction).

    Classes absent from both ground truth and prediction (union 0) are left out of the mean IoU;
    values are NaN when the matrix is empty.
    """
    confusion = confusion.double()
    hits = confusion.diagonal()
    union = confusion.sum(dim=0) + confusion.sum(dim=1) - hits
    present = union > 0
    total = float(confusion.sum())
    miou = float((hits[present] / union[present]).mean()) if bool(present.any()) else math.nan
    pixel_acc = float(hits.sum()) / total if total > 0 else math.nan
    return {"miou": miou, "pixel_acc": pixel_acc}


def segmentation_metrics(
    pred: Tensor, gt: Tensor, num_classes: int, ignore_index: int | None = IGNORE_INDEX
) -> dict[str, float]:
    """Mean IoU and pixel accuracy of one batch, from its confusion matrix.

    pred, gt: BxHxW int class ids in [0, num_classes); gt pixels equal to ``ignore_index`` are not scored.
    Returns ``miou`` and ``pixel_acc`` as fractions 0-1 (see ``scores_from_confusion``).
    """
    return scores_from_confusion(confusion_matrix(pred, gt, num_classes, ignore_index))


class SegmentationAccumulator:
    """``segmentation_metrics`` over a whole data set, fed batch by batch: a summed confusion matrix."""

    def __init__(self, num_classes: int, ignore_index: int | None = IGNORE_INDEX):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: Tensor, gt: Tensor) -> None:
        """Add one batch; shapes as in ``segmentation_metrics``."""
        self.confusion += confusion_matrix(pred, gt, self.num_classes, self.ignore_index).cpu()

    def compute(self) -> dict[str, float]:
        """Scores of everything added so far; keys as ``segmentation_metrics``."""
        return scores_from_confusion(self.confusion)
