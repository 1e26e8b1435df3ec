"""Decoder features: shapes and strides as advertised, hooks owned and removed, frozen weights, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.backbones import DiffusionBackbone, load_backbone
from diff2in1.backbones.tiny import save_tiny_pixel_unet


def _images(backbone: DiffusionBackbone, batch: int = 2, seed: int = 0) -> torch.Tensor:
    side = backbone.sample_size
    return torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _hooks_left(backbone: DiffusionBackbone) -> int:
    return sum(len(m._forward_hooks) for m in backbone.modules())


def test_feature_shapes_match_channels_and_strides(backbone: DiffusionBackbone) -> None:
    images = _images(backbone)
    features = backbone.extract_features(images, generator=torch.Generator().manual_seed(0))
    assert len(features) == len(backbone.feature_channels) == len(backbone.feature_strides)
    for feature, channels, stride in zip(features, backbone.feature_channels, backbone.feature_strides):
        side = backbone.sample_size // stride
        assert feature.shape == (2, channels, side, side)


def test_tiny_models_advertise_known_features(sd_backbone, pixel_backbone) -> None:
    assert (sd_backbone.feature_channels, sd_backbone.feature_strides, sd_backbone.sample_size) == (
        [64, 32],
        [2, 2],
        32,
    )
    assert (pixel_backbone.feature_channels, pixel_backbone.feature_strides) == ([32, 16], [1, 1])
    assert pixel_backbone.sample_size == 16


def test_strides_follow_the_unet_levels(tmp_path: Path) -> None:
    folder = save_tiny_pixel_unet(tmp_path / "three_levels", sample_size=16, block_out_channels=(16, 32, 32))
    backbone = load_backbone("auto", folder)
    assert backbone.feature_strides == [2, 1, 1]
    features = backbone.extract_features(torch.zeros(1, 3, 16, 16))
    assert [f.shape[-1] for f in features] == [8, 16, 16]


def test_inner_layers_can_be_features(tiny_sd_path: Path) -> None:
    layers = ["up_blocks.0", "up_blocks.1.attentions.0", "up_blocks.1"]
    backbone = load_backbone("stable_diffusion", tiny_sd_path, feature_layers=layers)
    assert backbone.feature_channels == [64, 32, 32]
    features = backbone.extract_features(_images(backbone, batch=1))
    assert [f.shape[1] for f in features] == [64, 32, 32]


def test_unknown_feature_layer_is_named(tiny_pixel_path: Path) -> None:
    with pytest.raises(ValueError, match="up_blocks.7"):
        load_backbone("pixel", tiny_pixel_path, feature_layers=["up_blocks.7"])


def test_hooks_are_removed_after_each_pass(backbone: DiffusionBackbone) -> None:
    noisy = torch.zeros(1, backbone.unet.config.in_channels, 8, 8)
    backbone.unet_pass(noisy, 10)
    assert _hooks_left(backbone) == 0
    with backbone.capture_features():
        assert _hooks_left(backbone) == len(backbone.feature_layers)
    assert _hooks_left(backbone) == 0


def test_hooks_are_removed_when_the_pass_fails(backbone: DiffusionBackbone) -> None:
    noisy = torch.zeros(2, backbone.unet.config.in_channels, 8, 8)
    bad_cond = torch.zeros(3, 77, 32)  # wrong batch for SD, not allowed at all for the pixel model
    with pytest.raises(ValueError):
        backbone.unet_pass(noisy, 10, bad_cond)
    assert _hooks_left(backbone) == 0


def test_weights_are_frozen_and_stay_in_eval(backbone: DiffusionBackbone) -> None:
    assert not any(p.requires_grad for p in backbone.parameters())
    backbone.train()
    try:
        assert all(not m.training for m in backbone.frozen_modules().values())
        assert all(not m.training for m in backbone.unet.modules())
    finally:
        backbone.eval()


def test_features_are_deterministic_with_a_generator(backbone: DiffusionBackbone) -> None:
    images = _images(backbone)

    def features(seed: int, timestep: int | None = None) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        return backbone.extract_features(images, timestep=timestep, generator=generator)

    first, again, other = features(1, 500), features(1, 500), features(2, 500)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.allclose(first[-1], other[-1])
    assert all(not f.requires_grad for f in features(1))
