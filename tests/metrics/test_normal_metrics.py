"""Angular-error metrics for surface normals: hand-computed cases, masks, units, streaming."""

import math

import pytest
import torch

from diff2in1.metrics import NORMAL_KEYS, NormalAccumulator, angular_error_deg, normal_metrics


def _normals(vectors: list[list[float]]) -> torch.Tensor:
    """1x3x1xN normals from N xyz vectors."""
    return torch.tensor(vectors, dtype=torch.float32).T[None, :, None, :]


def _random_batch(generator: torch.Generator, b: int = 2, h: int = 12, w: int = 10):
    pred = torch.randn(b, 3, h, w, generator=generator) * torch.rand(b, 1, h, w, generator=generator) * 3
    gt = torch.nn.functional.normalize(pred + 0.6 * torch.randn(b, 3, h, w, generator=generator), dim=1)
    mask = torch.rand(b, h, w, generator=generator) > 0.3
    return pred, gt, mask


def test_known_angles_in_degrees():
    z = [0.0, 0.0, 1.0]
    gt = _normals([z, z, z, z])
    # 0, 90, 180 and 45 deg; pred lengths vary because pred is normalised first.
    pred = _normals([[0, 0, 5.0], [2.0, 0, 0], [0, 0, -0.5], [1.0, 0, 1.0]])
    errors = angular_error_deg(pred, gt)
    assert errors.flatten().tolist() == pytest.approx([0.0, 90.0, 180.0, 45.0], abs=1e-9)
    result = normal_metrics(pred, gt, torch.ones(1, 1, 4, dtype=torch.bool))
    assert set(result) == set(NORMAL_KEYS)
    assert result["mean"] == pytest.approx(315 / 4)
    assert result["median"] == pytest.approx(67.5)  # mean of the middle two, 45 and 90
    assert result["rmse"] == pytest.approx(math.sqrt((90**2 + 180**2 + 45**2) / 4))
    assert result["a11.25"] == pytest.approx(25.0)  # a percentage, not a fraction
    assert result["a30"] == pytest.approx(25.0)


def test_all_ninety_degrees():
    gt = torch.zeros(2, 3, 4, 4)
    gt[:, 2] = 1
    pred = torch.zeros(2, 3, 4, 4)
    pred[:, 0] = 1
    result = normal_metrics(pred, gt, torch.ones(2, 4, 4, dtype=torch.bool))
    assert result["mean"] == pytest.approx(90.0)
    assert result["median"] == pytest.approx(90.0)
    assert result["rmse"] == pytest.approx(90.0)
    assert result["a30"] == 0.0


def test_identical_normals_score_zero_and_full_accuracy():
    gt = torch.nn.functional.normalize(
        torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)), dim=1
    )
    result = normal_metrics(gt * 3, gt, torch.ones(2, 8, 8, dtype=torch.bool))
    assert result["mean"] < 1e-5
    assert result["a11.25"] == 100.0


def test_pooled_over_pixels_not_averaged_over_images():
    gt = torch.zeros(2, 3, 1, 3)
    gt[:, 2] = 1
    pred = gt.clone()
    pred[1, :, 0, 0] = torch.tensor([1.0, 0, 0])  # one 90 deg error in image 1
    mask = torch.tensor([[[True, False, False]], [[True, True, True]]])
    # Pooled: 90 over 4 pixels = 22.5; a mean of per-image means would be 15.
    assert normal_metrics(pred, gt, mask)["mean"] == pytest.approx(22.5)


def test_masked_pixels_do_not_count():
    pred, gt, mask = _random_batch(torch.Generator().manual_seed(1))
    reference = normal_metrics(pred, gt, mask)
    spoiled = torch.where(mask[:, None], pred, -gt)  # 180 deg wherever invalid
    assert normal_metrics(spoiled, gt, mask) == pytest.approx(reference)
    assert normal_metrics(spoiled, gt, torch.ones_like(mask))["mean"] > reference["mean"] + 10


def test_empty_mask_gives_nan():
    pred, gt, mask = _random_batch(torch.Generator().manual_seed(2))
    result = normal_metrics(pred, gt, torch.zeros_like(mask))
    assert all(math.isnan(v) for v in result.values())
    assert all(math.isnan(v) for v in NormalAccumulator().compute().values())


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="Bx3xHxW"):
        normal_metrics(
            torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), torch.ones(1, 4, 4, dtype=torch.bool)
        )
    with pytest.raises(ValueError, match="does not match"):
        normal_metrics(
            torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5), torch.ones(1, 4, 4, dtype=torch.bool)
        )


def test_accumulator_matches_function_on_concatenation():
    generator = torch.Generator().manual_seed(3)
    batches = [_random_batch(generator) for _ in range(3)]
    accumulator = NormalAccumulator()
    for batch in batches:
        accumulator.update(*batch)
    streamed = accumulator.compute()
    whole = normal_metrics(*(torch.cat(parts) for parts in zip(*batches)))
    for key in ("mean", "rmse", "a11.25", "a22.5", "a30"):
        assert streamed[key] == pytest.approx(whole[key], rel=1e-12), key
    assert abs(streamed["median"] - whole["median"]) < accumulator.bin_deg


@pytest.mark.parametrize("count", [1, 2, 7, 1000, 1001])
def test_accumulator_median_within_one_bin(count):
    # Errors crowded into a few bins and straddling bin edges, odd and even counts.
    generator = torch.Generator().manual_seed(count)
    angles = torch.deg2rad(40 + 0.05 * torch.rand(count, generator=generator, dtype=torch.float64))
    gt = torch.zeros(1, 3, 1, count, dtype=torch.float64)
    gt[0, 2] = 1
    pred = torch.stack([angles.sin(), torch.zeros_like(angles), angles.cos()])[None, :, None, :]
    mask = torch.ones(1, 1, count, dtype=torch.bool)
    accumulator = NormalAccumulator()
    accumulator.update(pred, gt, mask)
    exact = normal_metrics(pred, gt, mask)["median"]
    assert abs(accumulator.compute()["median"] - exact) < accumulator.bin_deg
