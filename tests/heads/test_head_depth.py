from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from head_test_utils import fit

from diff2in1.heads import DepthHead, silog_loss


def ramp_depth(batch: int = 2, size: int = 16) -> torch.Tensor:
    """Bx1xHxW depths from 1 to 4 m."""
    return torch.linspace(1.0, 4.0, size).view(1, 1, 1, size).expand(batch, 1, size, size).clone()


def test_depth_is_positive_and_bounded(fused):
    head = DepthHead(max_depth=5.0, in_channels=8)
    pred = head(fused * 100, (20, 24))
    assert pred["depth"].shape == (2, 1, 20, 24)
    assert (pred["depth"] > 0).all() and (pred["depth"] <= 5.0).all()
    assert head.confidence(pred) is None
    assert torch.equal(head.target_from_pred(pred), pred["depth"].detach())


def test_silog_is_zero_when_exact_and_known_for_a_global_scale():
    gt = torch.linspace(0.5, 8.0, 100)
    assert silog_loss(gt, gt) < 1e-4
    # g = log 2 everywhere: 10 * sqrt((1 - 0.85) * log(2)^2)
    assert silog_loss(2 * gt, gt).item() == pytest.approx(10 * math.sqrt(0.15) * math.log(2), rel=1e-4)


def test_loss_decreases_when_fitting_one_batch(fused):
    torch.manual_seed(0)
    head = DepthHead(max_depth=10.0, in_channels=8, mid_channels=8)
    target = ramp_depth()
    mask = torch.ones(2, 16, 16, dtype=torch.bool)
    first, last = fit(lambda: head.loss(head(fused, (16, 16)), target, mask), head.parameters())
    assert last < 0.5 * first


def test_invalid_pixels_and_zero_depth_do_not_change_the_loss(fused):
    head = DepthHead(in_channels=8)
    pred = head(fused, (16, 16))
    target = ramp_depth()
    mask = torch.ones(2, 16, 16, dtype=torch.bool)
    mask[:, :, :4] = False
    other = target.clone()
    other[:, :, :, :4] = float("nan")
    assert torch.equal(head.loss(pred, target, mask), head.loss(pred, other, mask))
    # gt 0 means "no measurement" even where the mask says valid
    zeroed = target.clone()
    zeroed[:, :, :, :4] = 0
    full = torch.ones_like(mask)
    assert torch.equal(head.loss(pred, zeroed, full), head.loss(pred, target, mask))
    assert head.loss(pred, target, full) != head.loss(pred, target, mask)


def test_no_valid_pixel_gives_zero_with_grad(fused):
    head = DepthHead(in_channels=8)
    loss = head.loss(head(fused, (16, 16)), ramp_depth(), torch.zeros(2, 16, 16, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()


def test_mask_of_the_wrong_shape_is_refused(fused):
    head = DepthHead(in_channels=8)
    with pytest.raises(ValueError, match="mask must be BxHxW"):
        head.loss(head(fused, (16, 16)), ramp_depth(), torch.ones(2, 8, 8, dtype=torch.bool))


def test_picture(fused):
    head = DepthHead(in_channels=8)
    pic = head.to_picture(head(fused, (16, 12)))
    assert pic.shape == (2, 16, 12, 3) and pic.dtype == np.uint8
