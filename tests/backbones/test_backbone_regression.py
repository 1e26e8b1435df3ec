"""Regression values of feature extraction on the tiny backbones (diffusers' ``expected_slice`` style).

The tiny models are seeded (`save_tiny_*`, seed 0), the images and the perception noise too, so the features
are fixed numbers; a change in the hooks, the noising or the text conditioning changes them. If a change is
intended, print the new slices and update them in the same commit, saying why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.backbones import load_backbone

# kind -> (feature shapes, features[0][0, :3, 0, :3], features[-1][1, -3:, -1, -3:])
EXPECTED = {
    "pixel": ([(2, 32, 16, 16), (2, 16, 16, 16)],
              [0.0018, 0.0543, 0.0136, -0.0321, -0.0136, 0.0799, 0.0048, 0.0042, -0.0371],
              [-0.0586, -0.0100, -0.0794, 0.0625, -0.2475, -0.3422, 0.4692, -0.2961, 0.2072]),
    "stable_diffusion": ([(2, 64, 16, 16), (2, 32, 16, 16)],
                         [-0.1827, -0.0952, 0.0375, -0.0873, -0.1046, -0.0371, 0.1027, 0.1540, 0.0889],
                         [-0.4869, -0.1047, -0.0999, 0.2587, 0.2569, 0.0941, -0.3537, -0.6242, -0.9916]),
}


def seeded_images(batch: int, side: int) -> torch.Tensor:
    """Bx3xSxS in [-1, 1], the same on every machine."""
    return torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_features_of_the_tiny_backbones_match_the_recorded_values(kind, request):
    path: Path = request.getfixturevalue("tiny_pixel_path" if kind == "pixel" else "tiny_sd_path")
    backbone = load_backbone(kind, path)
    captions = ["a room", "a chair"] if backbone.takes_text else None
    features = backbone.extract_features(seeded_images(2, backbone.sample_size), captions=captions,
                                         generator=torch.Generator().manual_seed(0))
    shapes, first, last = EXPECTED[kind]
    assert [tuple(f.shape) for f in features] == shapes
    assert torch.allclose(features[0][0, :3, 0, :3].flatten(), torch.tensor(first), atol=1e-3), \
        features[0][0, :3, 0, :3].flatten().tolist()
    assert torch.allclose(features[-1][1, -3:, -1, -3:].flatten(), torch.tensor(last), atol=1e-3), \
        features[-1][1, -3:, -1, -3:].flatten().tolist()
