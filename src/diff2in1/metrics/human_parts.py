"""Human-part accuracy: mean IoU over the 7 part classes (background included), on images with people.

PASCAL-Context's convention in the multi-task works: an image whose ground truth has no part pixel (no
person) is left out entirely, so predicting parts there costs nothing; on images with people every
labelled pixel counts, background too. Pixels labelled 255 are ignored.
"""

from __future__ import annotations

from torch import Tensor

from ..tasks import HUMAN_PART_CLASSES, IGNORE_INDEX
from ._shapes import as_bhw, check_same_shape
from .segmentation import SegmentationAccumulator, scores_from_confusion

HUMAN_PARTS_KEYS: tuple[str, ...] = ("miou", "pixel_acc", "images")


def has_people(gt: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """B bool: True for the images of BxHxW part labels that hold a part (a label other than 0 and 255)."""
    return ((gt != 0) & (gt != ignore_index)).flatten(1).any(dim=1)


class HumanPartsAccumulator(SegmentationAccumulator):
    """A confusion matrix over the images with people; ``compute`` adds how many images were scored."""

    def __init__(self, ignore_index: int = IGNORE_INDEX):
        super().__init__(len(HUMAN_PART_CLASSES), ignore_index)
        self.images = 0

    def update(self, pred: Tensor, gt: Tensor) -> None:
        """pred, gt: BxHxW int part indices in [0, 7) (gt may hold 255 = ignore)."""
        pred, gt = as_bhw(pred, "human_parts pred"), as_bhw(gt, "human_parts gt").to(pred.device)
        check_same_shape(gt, "human_parts gt", pred, "pred")
        people = has_people(gt, self.ignore_index)
        if people.any():
            super().update(pred[people], gt[people])
            self.images += int(people.sum())

    def compute(self) -> dict[str, float]:
        """miou and pixel_acc over the images with people (NaN when there were none), and their number."""
        return {**scores_from_confusion(self.confusion), "images": float(self.images)}


def human_parts_metrics(pred: Tensor, gt: Tensor) -> dict[str, float]:
    """Part mIoU of one batch, images without people left out."""
    accumulator = HumanPartsAccumulator()
    accumulator.update(pred, gt)
    return accumulator.compute()
