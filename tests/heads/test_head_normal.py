from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from head_test_utils import fit

from diff2in1.heads import NormalHead, angular_vmf_nll


def smooth_normals(batch: int = 2, size: int = 16) -> torch.Tensor:
    """Bx3xHxW unit normals that vary slowly across the image."""
    ys, xs = torch.meshgrid(torch.linspace(-0.5, 0.5, size), torch.linspace(-0.5, 0.5, size), indexing="ij")
    n = torch.stack([xs, ys, torch.ones_like(xs)], dim=0)
    return F.normalize(n, dim=0).expand(batch, 3, size, size).clone()


def test_outputs_are_unit_normals_and_positive_kappa(fused):
    head = NormalHead(in_channels=8, min_kappa=0.01)
    pred = head(fused, (20, 24))
    assert pred["normal"].shape == (2, 3, 20, 24)
    assert pred["kappa"].shape == (2, 1, 20, 24)
    assert torch.allclose(pred["normal"].norm(dim=1), torch.ones(2, 20, 24), atol=1e-5)
    assert (pred["kappa"] >= 0.01).all()
    assert head.confidence(pred).shape == (2, 20, 24)
    assert torch.equal(head.target_from_pred(pred), pred["normal"].detach())


def test_vmf_nll_prefers_the_right_direction_and_punishes_confident_mistakes():
    up = torch.tensor([[0.0, 0.0, 1.0]])
    side = torch.tensor([[1.0, 0.0, 0.0]])
    kappa = torch.tensor([5.0])
    assert angular_vmf_nll(up, kappa, up) < angular_vmf_nll(side, kappa, up)
    # wrong by 90 degrees: more confidence costs more; right: more confidence costs less
    assert angular_vmf_nll(side, torch.tensor([50.0]), up) > angular_vmf_nll(side, torch.tensor([1.0]), up)
    assert angular_vmf_nll(up, torch.tensor([50.0]), up) < angular_vmf_nll(up, torch.tensor([1.0]), up)


def test_vmf_nll_matches_the_formula_and_has_finite_gradients_at_exact_alignment():
    pred = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]], requires_grad=True)
    kappa = torch.tensor([2.0, 3.0], requires_grad=True)
    gt = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    nll = angular_vmf_nll(pred, kappa, gt)
    theta = torch.acos(torch.tensor([0.999999, -0.999999]))
    k = kappa.detach()
    expected = -torch.log(k**2 + 1) + k * theta + torch.log(1 + torch.exp(-k * math.pi))
    assert torch.allclose(nll.detach(), expected, atol=1e-6)
    nll.sum().backward()
    assert torch.isfinite(pred.grad).all() and torch.isfinite(kappa.grad).all()


def test_loss_decreases_when_fitting_one_batch(fused):
    torch.manual_seed(0)
    head = NormalHead(in_channels=8, mid_channels=8)
    target = smooth_normals()
    mask = torch.ones(2, 16, 16, dtype=torch.bool)
    first, last = fit(lambda: head.loss(head(fused, (16, 16)), target, mask), head.parameters())
    assert last < first - 1.0


def test_invalid_pixels_do_not_change_the_loss(fused):
    head = NormalHead(in_channels=8)
    pred = head(fused, (16, 16))
    target = smooth_normals()
    mask = torch.ones(2, 16, 16, dtype=torch.bool)
    mask[:, :5] = False
    other = target.clone()
    other[:, :, :5] = float("nan")
    other[1, :, :5] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]
    assert torch.equal(head.loss(pred, target, mask), head.loss(pred, other, mask))
    # and the valid pixels do matter
    flipped = target.clone()
    flipped[:, :, 5:] *= -1
    assert head.loss(pred, flipped, mask) != head.loss(pred, target, mask)


def test_no_valid_pixel_gives_zero_with_grad(fused):
    head = NormalHead(in_channels=8)
    loss = head.loss(head(fused, (16, 16)), smooth_normals(), torch.zeros(2, 16, 16, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()


def test_default_mask_marks_all_zero_normals_invalid():
    target = smooth_normals()
    target[0, :, 3, 4] = 0
    mask = NormalHead(in_channels=8).default_mask(target)
    assert mask.shape == (2, 16, 16) and not mask[0, 3, 4] and mask.sum() == 2 * 16 * 16 - 1


def test_picture(fused):
    head = NormalHead(in_channels=8)
    pic = head.to_picture(head(fused, (16, 12)))
    assert pic.shape == (2, 16, 12, 3) and pic.dtype == np.uint8
