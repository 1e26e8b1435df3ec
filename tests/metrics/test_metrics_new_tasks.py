"""Boundary odsF, saliency maxF / mIoU and human-part mIoU against cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diff2in1.metrics import (
    EdgeAccumulator,
    compute_all,
    edge_metrics,
    human_parts_metrics,
    make_accumulators,
    saliency_metrics,
    update_from_batch,
)
from diff2in1.metrics.edge import thin


def line(column: int, size: int = 11, value: float = 1.0) -> torch.Tensor:
    """1x1xHxW map with a vertical line of ``value`` at ``column``."""
    x = torch.zeros(1, 1, size, size)
    x[..., column] = value
    return x


def test_one_pixel_shift_matches_inside_the_tolerance_and_not_outside():
    gt, pred = line(5), line(6, value=0.9)
    inside = edge_metrics(pred, gt, radius=1.0)
    assert inside["odsF"] == 1.0 and inside["precision"] == 1.0 and inside["recall"] == 1.0
    assert edge_metrics(pred, gt, radius=0.5)["odsF"] == 0.0
    two = line(7, value=0.9)
    assert edge_metrics(two, gt, radius=1.0)["odsF"] == 0.0
    assert edge_metrics(two, gt, radius=2.0)["odsF"] == 1.0
    # a diagonal neighbour is sqrt(2) px away: outside radius 1, inside 1.5
    diagonal = torch.zeros(1, 1, 11, 11)
    diagonal[0, 0, 3, 3] = 1.0
    shifted = torch.zeros(1, 1, 11, 11)
    shifted[0, 0, 4, 4] = 1.0
    assert edge_metrics(shifted, diagonal, radius=1.0)["odsF"] == 0.0
    assert edge_metrics(shifted, diagonal, radius=1.5)["odsF"] == 1.0


def test_matching_is_one_to_one():
    # two predicted lines either side of one true line: each true pixel takes one predicted pixel
    gt, pred = line(5), line(4, value=0.9) + line(6, value=0.9)
    scores = edge_metrics(pred, gt, radius=1.0)
    assert scores["precision"] == 0.5 and scores["recall"] == 1.0
    assert scores["odsF"] == pytest.approx(2 * 0.5 / 1.5)


def test_ods_takes_the_best_threshold_over_the_data_set():
    gt, pred = line(5), line(5, value=0.9)
    pred[0, 0, 2, 0] = 0.4  # a weak false boundary: cut away by thresholds above 0.4
    scores = edge_metrics(pred, gt, radius=1.0, thresholds=(0.3, 0.6))
    assert scores["odsF"] == 1.0 and scores["threshold"] == 0.6
    at_low = edge_metrics(pred, gt, radius=1.0, thresholds=(0.3,))
    assert at_low["precision"] == pytest.approx(11 / 12)


def test_thinning_leaves_one_pixel_lines():
    band = np.zeros((11, 11), dtype=bool)
    band[:, 4:7] = True
    thinned = thin(band)
    assert thinned.sum(axis=1)[2:-2].max() == 1 and thinned[2:-2].any(axis=1).all()
    assert np.array_equal(thin(line(5)[0, 0].numpy() > 0), line(5)[0, 0].numpy() > 0)


def test_default_tolerance_is_a_fraction_of_the_diagonal():
    gt, pred = line(50, size=101), line(51, size=101, value=0.9)
    # 0.0075 x 142.8 px = 1.07 px: a one-pixel shift matches at this size
    assert edge_metrics(pred, gt)["odsF"] == 1.0
    assert EdgeAccumulator().compute()["odsF"] != EdgeAccumulator().compute()["odsF"]  # NaN when empty


def test_max_f_on_a_known_threshold_sweep():
    pred = torch.tensor([0.9, 0.8, 0.3, 0.2]).view(1, 1, 2, 2)
    gt = torch.tensor([1.0, 0.0, 1.0, 0.0]).view(1, 1, 2, 2)
    # t = 0.25: P 2/3, R 1 -> F 0.722; t = 0.5: P 1/2, R 1/2 -> 0.5; t = 0.85: P 1, R 1/2 -> 0.8125
    scores = saliency_metrics(pred, gt, thresholds=(0.25, 0.5, 0.85))
    assert scores["maxF"] == pytest.approx(0.8125) and scores["threshold"] == 0.85
    assert saliency_metrics(pred, gt, thresholds=(0.25,))["maxF"] == pytest.approx(1.3 * (2 / 3) / (0.3 * 2 / 3 + 1))
    # at 0.5: TP 1, FP 1, FN 1, TN 1 -> IoU 1/3 for both classes
    assert scores["miou"] == pytest.approx(1 / 3)


def test_parts_miou_ignores_images_without_people():
    pred = torch.tensor([[[0, 1], [2, 2]], [[1, 1], [1, 1]]])
    gt = torch.tensor([[[0, 1], [1, 2]], [[0, 0], [0, 0]]])
    scores = human_parts_metrics(pred, gt)
    # image 1 only: background IoU 1, class 1 IoU 1/2, class 2 IoU 1/2
    assert scores["miou"] == pytest.approx(2 / 3) and scores["images"] == 1
    only_empty = human_parts_metrics(pred[1:], gt[1:])
    assert math.isnan(only_empty["miou"]) and only_empty["images"] == 0


def test_streaming_routes_the_new_tasks():
    accumulators = make_accumulators(["edge", "saliency", "human_parts"])
    preds = {"edge": line(6, value=0.9), "saliency": torch.full((1, 1, 11, 11), 0.7),
             "human_parts": torch.ones(1, 11, 11, dtype=torch.int64)}
    parts = torch.ones(1, 11, 11, dtype=torch.int64)
    parts[:, :, :5] = 255
    batch = {"edge": line(6), "saliency": torch.ones(1, 1, 11, 11), "human_parts": parts,
             "mask": {"human_parts": torch.ones(1, 11, 11, dtype=torch.bool)}}
    update_from_batch(accumulators, preds, batch)
    scores = compute_all(accumulators)
    assert scores["edge"]["odsF"] == 1.0 and scores["saliency"]["maxF"] == pytest.approx(1.0)
    assert scores["human_parts"]["miou"] == 1.0
