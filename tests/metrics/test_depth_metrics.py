"""Depth metrics (Eigen et al.): hand-computed cases, masks, a numpy re-implementation, streaming."""

import math

import numpy as np
import pytest
import torch

from diff2in1.metrics import DEPTH_KEYS, DepthAccumulator, depth_metrics


def _numpy_depth_metrics(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Plain per-image loop, written independently of the torch version."""
    rows = []
    for p, g, m in zip(pred, gt, mask):
        valid = m & (g > 0)
        if not valid.any():
            continue
        p, g = np.maximum(p[valid].astype(np.float64), 1e-3), g[valid].astype(np.float64)
        ratio = np.maximum(p / g, g / p)
        rows.append(
            [
                np.mean(np.abs(p - g) / g),
                np.mean((p - g) ** 2 / g),
                np.sqrt(np.mean((p - g) ** 2)),
                np.sqrt(np.mean((np.log(p) - np.log(g)) ** 2)),
                np.mean(np.abs(np.log10(p) - np.log10(g))),
                np.mean(ratio < 1.25),
                np.mean(ratio < 1.25**2),
                np.mean(ratio < 1.25**3),
            ]
        )
    return dict(zip(DEPTH_KEYS, np.mean(rows, axis=0)))


def _random_batch(generator: torch.Generator, b: int = 3, h: int = 9, w: int = 11):
    gt = 0.5 + 9.5 * torch.rand(b, 1, h, w, generator=generator)
    pred = gt * torch.exp(0.4 * torch.randn(b, 1, h, w, generator=generator))
    pred[:, :, 0, :3] = 0.0  # exercises the clamp to 1 mm
    gt[:, :, -1, :2] = 0.0  # invalid depth inside the mask
    mask = torch.rand(b, h, w, generator=generator) > 0.25
    return pred, gt, mask


def test_known_ratios():
    gt = torch.full((1, 1, 2, 2), 2.0)
    pred = torch.tensor([[[[2.0, 2.0], [3.0, 4.0]]]])  # ratios 1, 1, 1.5, 2
    result = depth_metrics(pred, gt, torch.ones(1, 2, 2, dtype=torch.bool))
    assert set(result) == set(DEPTH_KEYS)
    assert result["abs_rel"] == pytest.approx((0.5 + 1.0) / 4)
    assert result["sq_rel"] == pytest.approx((1 / 2 + 4 / 2) / 4)
    assert result["rmse"] == pytest.approx(math.sqrt(5 / 4))
    assert result["rmse_log"] == pytest.approx(math.sqrt((math.log(1.5) ** 2 + math.log(2) ** 2) / 4))
    assert result["log10"] == pytest.approx((math.log10(1.5) + math.log10(2)) / 4)
    assert result["d1"] == pytest.approx(0.5)
    assert result["d2"] == pytest.approx(0.75)  # 1.5 < 1.5625, 2 is not
    assert result["d3"] == pytest.approx(0.75)  # 1.25^3 = 1.95 < 2


def test_mean_over_images_not_pixels():
    gt = torch.ones(2, 1, 1, 4)
    pred = gt.clone()
    pred[1, 0, 0, 0] = 2.0  # abs_rel 1 at one pixel of image 1
    mask = torch.tensor([[[True, True, True, True]], [[True, False, False, False]]])
    # Per image: 0 and 1, mean 0.5; pooled over the 5 pixels it would be 0.2.
    assert depth_metrics(pred, gt, mask)["abs_rel"] == pytest.approx(0.5)


def test_masked_pixels_and_empty_images_are_skipped():
    pred, gt, mask = _random_batch(torch.Generator().manual_seed(0))
    reference = depth_metrics(pred, gt, mask)
    spoiled = torch.where(mask[:, None], pred, torch.tensor(1e4))
    assert depth_metrics(spoiled, gt, mask) == pytest.approx(reference)
    empty = torch.zeros_like(mask[:1])
    with_empty = depth_metrics(
        torch.cat([pred, spoiled[:1]]), torch.cat([gt, gt[:1]]), torch.cat([mask, empty])
    )
    assert with_empty == pytest.approx(reference)
    assert all(math.isnan(v) for v in depth_metrics(pred, gt, torch.zeros_like(mask)).values())


def test_matches_numpy_reimplementation():
    pred, gt, mask = _random_batch(torch.Generator().manual_seed(1), b=4)
    expected = _numpy_depth_metrics(pred[:, 0].numpy(), gt[:, 0].numpy(), mask.numpy())
    result = depth_metrics(pred[:, 0], gt[:, 0], mask)  # BxHxW accepted as well as Bx1xHxW
    assert result == pytest.approx(expected, rel=1e-9)
    assert 0.0 < result["d1"] < result["d2"] < result["d3"] <= 1.0


def test_accumulator_matches_function_on_concatenation():
    generator = torch.Generator().manual_seed(2)
    batches = [_random_batch(generator, b=b) for b in (2, 3, 1)]
    accumulator = DepthAccumulator()
    for batch in batches:
        accumulator.update(*batch)
    whole = depth_metrics(*(torch.cat(parts) for parts in zip(*batches)))
    assert accumulator.compute() == pytest.approx(whole, rel=1e-12)


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="does not match"):
        depth_metrics(torch.ones(1, 4, 4), torch.ones(1, 4, 5), torch.ones(1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="BxHxW"):
        depth_metrics(torch.ones(1, 2, 4, 4), torch.ones(1, 2, 4, 4), torch.ones(1, 4, 4, dtype=torch.bool))
