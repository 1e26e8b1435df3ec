"""Segmentation metrics: hand-computed IoU, ignored pixels, absent classes, torchmetrics, streaming."""

import math

import pytest
import torch
from torchmetrics.classification import MulticlassJaccardIndex

from diff2in1.metrics import SegmentationAccumulator, confusion_matrix, segmentation_metrics
from diff2in1.tasks import IGNORE_INDEX


def test_two_classes_by_hand():
    gt = torch.tensor([[[0, 0, 1, 1]]])
    pred = torch.tensor([[[0, 1, 1, 1]]])
    result = segmentation_metrics(pred, gt, num_classes=2)
    # class 0: tp 1, union 2 -> 0.5; class 1: tp 2, union 3 -> 2/3.
    assert result["miou"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert result["pixel_acc"] == pytest.approx(0.75)
    assert confusion_matrix(pred, gt, 2).tolist() == [[1, 1], [0, 2]]


def test_ignored_pixels_do_not_count():
    gt = torch.tensor([[[0, 0, 1, IGNORE_INDEX, IGNORE_INDEX]]])
    pred = torch.tensor([[[0, 0, 1, 1, 0]]])
    assert segmentation_metrics(pred, gt, num_classes=2) == {"miou": 1.0, "pixel_acc": 1.0}


def test_classes_absent_from_both_are_left_out():
    gt = torch.tensor([[[0, 0, 2, 2]]])
    pred = torch.tensor([[[0, 2, 2, 2]]])
    # Classes 1 and 3 appear nowhere: the mean is over classes 0 (1/2) and 2 (2/3) only.
    result = segmentation_metrics(pred, gt, num_classes=4)
    assert result["miou"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_class_only_predicted_counts_as_zero():
    gt = torch.tensor([[[0, 0, 0, 0]]])
    pred = torch.tensor([[[0, 0, 0, 1]]])
    assert segmentation_metrics(pred, gt, num_classes=3)["miou"] == pytest.approx((0.75 + 0.0) / 2)


def test_matches_torchmetrics():
    generator = torch.Generator().manual_seed(0)
    num_classes = 6
    gt = torch.randint(0, num_classes - 1, (3, 16, 16), generator=generator)  # class 5 never in gt
    gt[torch.rand(3, 16, 16, generator=generator) < 0.2] = IGNORE_INDEX
    pred = torch.randint(0, num_classes - 2, (3, 16, 16), generator=generator)  # nor in pred
    reference = MulticlassJaccardIndex(num_classes, average="none", ignore_index=IGNORE_INDEX)(pred, gt)
    kept = gt != IGNORE_INDEX
    present = torch.zeros(num_classes, dtype=torch.bool)
    present[gt[kept].unique()] = True
    present[pred[kept].unique()] = True
    assert not present[5]
    result = segmentation_metrics(pred, gt, num_classes)
    assert result["miou"] == pytest.approx(float(reference[present].mean()), rel=1e-6)
    assert result["pixel_acc"] == pytest.approx(float((pred[kept] == gt[kept]).float().mean()))


def test_accumulator_matches_function_on_concatenation():
    generator = torch.Generator().manual_seed(1)
    batches = [
        (
            torch.randint(0, 4, (2, 8, 8), generator=generator),
            torch.randint(0, 4, (2, 8, 8), generator=generator),
        )
        for _ in range(3)
    ]
    accumulator = SegmentationAccumulator(num_classes=5)
    for pred, gt in batches:
        accumulator.update(pred, gt)
    whole = segmentation_metrics(torch.cat([p for p, _ in batches]), torch.cat([g for _, g in batches]), 5)
    assert accumulator.compute() == whole
    assert accumulator.compute()["miou"] != pytest.approx(segmentation_metrics(*batches[0], 5)["miou"])


def test_empty_and_invalid_inputs():
    all_ignored = torch.full((1, 2, 2), IGNORE_INDEX)
    result = segmentation_metrics(torch.zeros(1, 2, 2, dtype=torch.long), all_ignored, 3)
    assert math.isnan(result["miou"]) and math.isnan(result["pixel_acc"])
    with pytest.raises(ValueError, match="num_classes"):
        segmentation_metrics(torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), 7), 3)
    with pytest.raises(ValueError, match="argmax"):
        segmentation_metrics(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), 3)
