"""One accumulator per task, and the routing of a batch of predictions and ground truth to them."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ..tasks import DEPTH, EDGE, HUMAN_PARTS, IGNORE_INDEX, NORMAL, SALIENCY, SEMSEG, check_tasks
from ._shapes import as_bhw
from .depth import DepthAccumulator
from .edge import EdgeAccumulator
from .human_parts import HumanPartsAccumulator
from .normal import NormalAccumulator
from .saliency import SaliencyAccumulator
from .segmentation import SegmentationAccumulator

Accumulator = (NormalAccumulator | DepthAccumulator | SegmentationAccumulator | EdgeAccumulator
               | SaliencyAccumulator | HumanPartsAccumulator)


def make_accumulators(
    tasks: list[str], num_classes: int | None = None, ignore_index: int = IGNORE_INDEX
) -> dict[str, Accumulator]:
    """A fresh accumulator per task name (see ``diff2in1.tasks``).

    ``num_classes`` is required when ``semseg`` is among ``tasks``; human parts have their fixed 7.
    """
    accumulators: dict[str, Accumulator] = {}
    for task in check_tasks(tasks, where="metrics"):
        if task == NORMAL:
            accumulators[task] = NormalAccumulator()
        elif task == DEPTH:
            accumulators[task] = DepthAccumulator()
        elif task == SEMSEG:
            if num_classes is None:
                raise ValueError(
                    "metrics: task 'semseg' needs num_classes (the data set's number of classes)"
                )
            accumulators[task] = SegmentationAccumulator(num_classes, ignore_index)
        elif task == EDGE:
            accumulators[task] = EdgeAccumulator()
        elif task == SALIENCY:
            accumulators[task] = SaliencyAccumulator()
        elif task == HUMAN_PARTS:
            accumulators[task] = HumanPartsAccumulator(ignore_index)
    return accumulators


def _entry(source: dict[str, Any], task: str, what: str) -> Any:
    if task not in source:
        raise KeyError(
            f"{what} has no '{task}' entry (found keys {sorted(source)}); every evaluated task needs one"
        )
    return source[task]


def update_from_batch(
    accumulators: dict[str, Accumulator], preds: dict[str, Tensor], batch: dict[str, Any]
) -> None:
    """Feed one batch to every accumulator.

    preds: {"normal": Bx3xHxW, "depth": Bx1xHxW metres, "semseg" / "human_parts": BxHxW int64, "edge" /
    "saliency": Bx1xHxW probability}, for each task in ``accumulators``. batch: the ground truth under the
    same keys plus ``mask``: {task: BxHxW bool}. Ground truth and masks are moved to the prediction's
    device. For the class tasks the mask, when present, marks masked-out pixels as ignored; for boundaries
    and saliency it leaves them out of the counts.
    """
    masks = batch.get("mask", {})
    for task, accumulator in accumulators.items():
        pred = _entry(preds, task, "predictions")
        gt = _entry(batch, task, "batch").to(pred.device)
        if isinstance(accumulator, SegmentationAccumulator):  # human parts too
            if task in masks:
                gt = as_bhw(gt, f"{task} gt")
                gt = gt.masked_fill(
                    ~as_bhw(masks[task], f"{task} mask").to(gt.device).bool(), accumulator.ignore_index
                )
            accumulator.update(pred, gt)
        elif isinstance(accumulator, EdgeAccumulator | SaliencyAccumulator):
            mask = masks.get(task)
            accumulator.update(pred, gt, None if mask is None else mask.to(pred.device))
        else:
            accumulator.update(pred, gt, _entry(masks, task, "batch['mask']").to(pred.device))


def compute_all(accumulators: dict[str, Accumulator]) -> dict[str, dict[str, float]]:
    """{task: metrics} of everything added so far."""
    return {task: accumulator.compute() for task, accumulator in accumulators.items()}
