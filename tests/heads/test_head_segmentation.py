from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from head_test_utils import fit

from diff2in1.heads import SegmentationHead


def stripes(batch: int = 2, size: int = 16, num_classes: int = 3) -> torch.Tensor:
    """BxHxW int64 labels: vertical stripes of classes 0..num_classes-1."""
    cols = torch.arange(size) * num_classes // size
    return cols.view(1, 1, size).expand(batch, size, size).clone()


def test_outputs(fused):
    head = SegmentationHead(5, in_channels=8)
    pred = head(fused, (20, 24))
    assert pred["logits"].shape == (2, 5, 20, 24)
    assert pred["semseg"].shape == (2, 20, 24) and pred["semseg"].dtype == torch.int64
    assert torch.equal(pred["semseg"], pred["logits"].argmax(1))
    conf = head.confidence(pred)
    assert conf.shape == (2, 20, 24) and (conf > 0).all() and (conf <= 1).all()
    assert (conf >= 1 / 5 - 1e-6).all()


def test_loss_is_cross_entropy_over_valid_pixels(fused):
    head = SegmentationHead(3, in_channels=8)
    pred = head(fused, (16, 16))
    target = stripes()
    target[0, 0, 0] = 255
    mask = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(0)) > 0.3
    keep = mask & (target != 255)
    logits = pred["logits"].permute(0, 2, 3, 1)[keep]
    expected = F.cross_entropy(logits, target[keep])
    assert torch.allclose(head.loss(pred, target, mask), expected, atol=1e-6)


def test_invalid_pixels_do_not_change_the_loss(fused):
    head = SegmentationHead(3, in_channels=8)
    pred = head(fused, (16, 16))
    target = stripes()
    mask = torch.ones(2, 16, 16, dtype=torch.bool)
    mask[:, 10:] = False
    other = target.clone()
    other[:, 10:] = (other[:, 10:] + 1) % 3
    assert torch.equal(head.loss(pred, target, mask), head.loss(pred, other, mask))
    assert head.loss(pred, other, torch.ones_like(mask)) != head.loss(pred, target, torch.ones_like(mask))


def test_loss_decreases_when_fitting_one_batch(fused):
    torch.manual_seed(0)
    head = SegmentationHead(3, in_channels=8, mid_channels=8)
    target = stripes()
    mask = torch.ones(2, 16, 16, dtype=torch.bool)
    first, last = fit(lambda: head.loss(head(fused, (16, 16)), target, mask), head.parameters())
    assert last < 0.5 * first


def test_no_valid_pixel_gives_zero_with_grad(fused):
    head = SegmentationHead(3, in_channels=8)
    target = torch.full((2, 16, 16), 255)
    loss = head.loss(head(fused, (16, 16)), target, torch.ones(2, 16, 16, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()


def test_picture(fused):
    head = SegmentationHead(4, in_channels=8)
    pic = head.to_picture(head(fused, (16, 12)))
    assert pic.shape == (2, 16, 12, 3) and pic.dtype == np.uint8
