"""Regression values of the heads on a tiny config (diffusers' ``expected_slice`` style).

A change that alters what a seeded head predicts fails here; if the change is intended, print the new
slices and update them in the same commit, saying why.
"""

from __future__ import annotations

import pytest
import torch

from diff2in1.heads import PerceptionModel

CHANNELS, STRIDES = [16, 8, 8, 4], [8, 4, 2, 1]
EXPECTED = {  # fuse_stride -> slices of normal[0, :, 5, 7], kappa[1, 0, -1, -3:], depth[0, 0, 10, 10:13], logits[1, :, 20, 20]
    4: ([-0.9265, 0.1251, -0.3548], [0.7554, 0.7119, 0.6534], [5.4144, 5.4195, 5.4458],
        [-0.0080, 0.2301, 0.2561, 0.1758]),
    1: ([0.3676, -0.4932, -0.7884], [0.7121, 0.7132, 0.7168], [5.5528, 5.6038, 5.5981],
        [0.0818, -0.1901, -0.1609, 0.0739]),
}


@pytest.mark.parametrize("fuse_stride", sorted(EXPECTED))
def test_a_seeded_head_predicts_the_recorded_values(fuse_stride):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = PerceptionModel(CHANNELS, STRIDES, ["normal", "depth", "semseg"], num_classes=4, channels=8,
                                fuse_stride=fuse_stride).eval()
    generator = torch.Generator().manual_seed(0)
    features = [torch.randn(2, c, 32 // s, 32 // s, generator=generator) for c, s in zip(CHANNELS, STRIDES)]
    with torch.no_grad():
        preds = model(features, (32, 32))
    found = (preds["normal"]["normal"][0, :, 5, 7], preds["normal"]["kappa"][1, 0, -1, -3:],
             preds["depth"]["depth"][0, 0, 10, 10:13], preds["semseg"]["logits"][1, :, 20, 20])
    for name, value, expected in zip(("normal", "kappa", "depth", "logits"), found, EXPECTED[fuse_stride]):
        assert torch.allclose(value, torch.tensor(expected), atol=1e-3), f"{name}: {value.tolist()}"
