"""Predictions keep the input's geometry at any size and aspect ratio (resize the long side, pad, map back)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diff2in1 import Diff2in1Pipeline
from diff2in1.backbones import load_backbone
from diff2in1.backbones.tiny import save_tiny_pixel_unet
from diff2in1.heads import PerceptionModel
from diff2in1.perception.processing import to_canvas
from diff2in1.perception.splits import backbone_info

DARK, BRIGHT = (40, 60, 90), (220, 200, 150)


def edge_image(height: int, width: int, x0: int) -> np.ndarray:
    """HxWx3 uint8: DARK left of column x0, BRIGHT from x0 on (a vertical edge)."""
    image = np.empty((height, width, 3), np.uint8)
    image[:, :x0], image[:, x0:] = DARK, BRIGHT
    return image


def _fit_edge_head(backbone, steps: int = 60) -> PerceptionModel:
    """A head taught on square edge images: class 1 and normal -x on DARK, class 2 and +x on BRIGHT."""
    side = backbone.sample_size
    right = (torch.arange(side)[None, :] >= torch.arange(side // 4, 3 * side // 4, 4)[:, None, None])
    right = right.expand(-1, side, side)  # BxSxS, True on BRIGHT; one edge position per image
    colour = torch.where(right[:, None], torch.tensor(BRIGHT)[:, None, None], torch.tensor(DARK)[:, None, None])
    normal = torch.zeros(len(right), 3, side, side)
    normal[:, 0] = torch.where(right, 1.0, -1.0)
    features = backbone.extract_features(colour.float() / 127.5 - 1, generator=torch.Generator().manual_seed(0))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        head = PerceptionModel(backbone.feature_channels, backbone.feature_strides, ["normal", "semseg"],
                               num_classes=3, channels=8, fuse_stride=1)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(steps):
        loss, _ = head.loss(head(features, (side, side)), {"normal": normal, "semseg": 1 + right.long()})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return head.eval()


@pytest.fixture(scope="module")
def edge_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Diff2in1Pipeline:
    """A pipeline whose features are the UNet's first convolution (so every prediction is local) and whose
    head has learnt DARK -> class 1, BRIGHT -> class 2 on square images."""
    path = save_tiny_pixel_unet(tmp_path_factory.mktemp("edge_unet"), sample_size=64)
    backbone = load_backbone("pixel", path, feature_layers=["conv_in"])
    head = _fit_edge_head(backbone)
    info = {"tasks": head.tasks, "classes": ["other", "dark", "bright"],
            "backbone": backbone_info(str(path), "pixel", backbone)}
    return Diff2in1Pipeline(backbone, {"theta_e": head}, info)


@pytest.mark.parametrize(("height", "width"), [(741, 500), (500, 741)])
def test_a_vertical_edge_stays_vertical_and_in_place(edge_pipeline, height, width):
    x0 = width * 2 // 5
    out = edge_pipeline(Image.fromarray(edge_image(height, width, x0)))
    assert out.normal.shape == (height, width, 3) and out.semseg.shape == (height, width)
    # One canvas pixel is max(H, W) / 64 image pixels; the edge must sit within two of them, on every row.
    tolerance = 2 * max(height, width) / edge_pipeline.backbone.sample_size
    normal_edge = np.abs(np.diff(out.normal, axis=1)).sum(-1).argmax(axis=1)
    assert np.abs(normal_edge - x0).max() <= tolerance
    assert np.ptp(normal_edge) <= tolerance / 2, "the normal edge is not vertical"
    assert (out.normal[:, : x0 - int(tolerance), 0] < 0).all() and (out.normal[:, x0 + int(tolerance):, 0] > 0).all()
    class_edge = (out.semseg == 2).argmax(axis=1)  # first BRIGHT column of each row
    assert (out.semseg[:, : x0 - int(tolerance)] == 1).all() and (out.semseg[:, x0 + int(tolerance):] == 2).all()
    assert np.abs(class_edge - x0).max() <= tolerance and np.ptp(class_edge) <= tolerance / 2


def test_the_canvas_keeps_the_aspect_ratio():
    """A 500-wide, 741-tall image fills the canvas height and is scaled by the same factor in x and y."""
    canvas, placement = to_canvas(torch.rand(3, 741, 500), 64)
    assert canvas.shape == (3, 64, 64)
    assert placement.resized == (64, round(500 * 64 / 741)) and placement.size == (741, 500)
    assert placement.left == (64 - placement.resized[1]) // 2 and placement.top == 0
    assert abs(placement.resized[0] / 741 - placement.resized[1] / 500) < 1 / 500 * 2
    square = torch.rand(3, 64, 64)
    assert torch.equal(to_canvas(square, 64)[0], square)


def test_the_flip_ensemble_is_mirror_symmetric(edge_pipeline):
    """ensemble=2 on a mirrored image gives the mirrored prediction (normal x negated), up to the noise."""
    image = edge_image(40, 64, 22)
    out = edge_pipeline(image, ensemble=2)
    mirrored = edge_pipeline(image[:, ::-1], ensemble=2)
    back = mirrored.normal[:, ::-1].copy()
    back[..., 0] *= -1
    away = np.abs(np.arange(64) - 22) > 2  # at the edge itself the two views' normals nearly cancel
    assert np.abs(out.normal - back)[:, away].max() < 0.05
    assert np.array_equal(out.semseg[:, away], mirrored.semseg[:, ::-1][:, away])
    with pytest.raises(ValueError, match="ensemble"):
        edge_pipeline(image, ensemble=3)


def test_inputs_of_every_kind_give_the_same_predictions(edge_pipeline):
    image = edge_image(30, 50, 20)
    from_array = edge_pipeline(image)
    from_pil = edge_pipeline(Image.fromarray(image))
    from_tensor = edge_pipeline(torch.from_numpy(image).permute(2, 0, 1).float() / 255)
    for other in (from_pil, from_tensor):
        assert np.allclose(other.normal, from_array.normal, atol=1e-5)
        assert np.array_equal(other.semseg, from_array.semseg)
    batch = edge_pipeline([image, image[:20, :40]])
    assert isinstance(batch.normal, list) and batch.normal[1].shape == (20, 40, 3)
    same = edge_pipeline(np.stack([image, image]))
    assert same.normal.shape == (2, 30, 50, 3) and same.confidence["semseg"].shape == (2, 30, 50)
    tensors = edge_pipeline(np.stack([image, image]), output_type="pt")
    assert tensors.normal.shape == (2, 3, 30, 50) and tensors.semseg.shape == (2, 30, 50)


def test_save_pretrained_of_a_constructed_pipeline_round_trips(edge_pipeline, tmp_path: Path):
    """A pipeline built in Python saves like a trained checkpoint (its backbone settings must match on load)."""
    folder = edge_pipeline.save_pretrained(tmp_path / "edge")
    assert (folder / "perception.json").is_file() and (folder / "model.safetensors").is_file()
    loaded = Diff2in1Pipeline.from_pretrained(folder, backbone=edge_pipeline.backbone)
    image = edge_image(30, 50, 20)
    assert np.array_equal(loaded(image).semseg, edge_pipeline(image).semseg)
