"""Tiny backbones, heads, rooms and a tiny warm-up checkpoint for the creation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from diff2in1.backbones import DiffusionBackbone, load_backbone
from diff2in1.heads import PerceptionModel


@pytest.fixture(scope="module")
def pixel_backbone(tiny_pixel_path: Path) -> DiffusionBackbone:
    return load_backbone("pixel", tiny_pixel_path)


@pytest.fixture(scope="module")
def sd_backbone(tiny_sd_path: Path) -> DiffusionBackbone:
    return load_backbone("stable_diffusion", tiny_sd_path)


@pytest.fixture(scope="module")
def pixel_head(pixel_backbone: DiffusionBackbone) -> PerceptionModel:
    """An untrained normal + depth head on the pixel backbone's features."""
    return PerceptionModel(pixel_backbone.feature_channels, pixel_backbone.feature_strides, ["normal", "depth"],
                           channels=8).eval()


@pytest.fixture(scope="module")
def warmup_run(tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Rooms at 16x16 (5 train images) and a 2-step warm-up of all three heads on the tiny pixel model."""
    from diff2in1.data.rooms import RoomsConfig, generate_rooms
    from diff2in1.training.warmup import WarmupConfig, train_warmup

    root = tmp_path_factory.mktemp("creation_warmup")
    rooms = generate_rooms(RoomsConfig(out=str(root / "rooms"), num=6, size=16), progress=False)
    run = train_warmup(WarmupConfig(backbone=str(tiny_pixel_path), data=str(rooms), out=str(root / "warmup"),
                                    steps=2, batch_size=2, channels=8, progress=False))
    return {"rooms": rooms, "checkpoint": run / "checkpoint"}
