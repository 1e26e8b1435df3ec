"""Regression values of `create_batch` on the tiny backbones (diffusers' ``expected_slice`` style).

Seeded models, images, head and noise: the created pixels and their labels are fixed numbers. If a change
to the DDIM loop or the labelling is intended, print the new slices and update them, saying why.
"""

from __future__ import annotations

import pytest
import torch

from diff2in1.backbones import load_backbone
from diff2in1.heads import PerceptionModel
from diff2in1.perception.ddim import create_batch

# kind -> created[1, :, -1, -3:], normal[0, :, 0, :2], depth[1, 0, -1, -3:], logits[0, :, 3, 3]
EXPECTED = {
    "pixel": ([0.1518, 0.0276, 1.0000, 0.9859, 0.8567, 0.1164, 0.5094, 0.7220, 0.0000],
              [-0.4816, -0.5634, -0.4578, -0.3997, -0.7473, -0.7231], [5.4601, 5.4668, 5.4703],
              [0.2204, -0.1963, -0.1818, -0.1037]),
    "stable_diffusion": ([0.6008, 0.5382, 0.4465, 0.2763, 0.4040, 0.5368, 0.5176, 0.4755, 0.5092],
                         [0.8632, 0.8669, -0.1598, -0.1555, 0.4789, 0.4736], [4.3634, 4.3628, 4.3625],
                         [-0.2429, 0.1657, -0.0294, -0.1157]),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_create_batch_on_the_tiny_backbones_matches_the_recorded_values(kind, request):
    backbone = load_backbone(kind, request.getfixturevalue("tiny_pixel_path" if kind == "pixel" else "tiny_sd_path"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        head = PerceptionModel(backbone.feature_channels, backbone.feature_strides, ["normal", "depth", "semseg"],
                               num_classes=4, channels=8).eval()
    side = backbone.sample_size
    images = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(0))
    captions = ["a room", "a chair"] if backbone.takes_text else None
    created, preds = create_batch(backbone, head, images, captions, t_star=600, num_inference_steps=10,
                                  generator=[torch.Generator().manual_seed(i) for i in range(2)])
    found = (created[1, :, -1, -3:], preds["normal"]["normal"][0, :, 0, :2], preds["depth"]["depth"][1, 0, -1, -3:],
             preds["semseg"]["logits"][0, :, 3, 3])
    for name, value, expected in zip(("created", "normal", "depth", "logits"), found, EXPECTED[kind]):
        assert torch.allclose(value.flatten(), torch.tensor(expected), atol=1e-3), f"{name}: {value.flatten().tolist()}"
