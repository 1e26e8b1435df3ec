"""Fixtures of the perception tests: a small rooms data set, a warmed-up checkpoint on the tiny pixel UNet."""

from __future__ import annotations

from pathlib import Path

import pytest
from perception_helpers import warmup_args

from diff2in1.cli.main import main
from diff2in1.data.rooms import RoomsConfig, generate_rooms

ROOMS_TRAIN, ROOMS_TEST = 9, 3


@pytest.fixture(scope="session")
def rooms32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rooms at 32x32: 9 train and 3 test images with all three tasks and captions."""
    root = tmp_path_factory.mktemp("rooms32") / "rooms"
    config = RoomsConfig(out=str(root), num=ROOMS_TRAIN + ROOMS_TEST, size=32, seed=3, test_fraction=0.25)
    generate_rooms(config)
    return root


@pytest.fixture(scope="session")
def pixel_checkpoint(tmp_path_factory: pytest.TempPathFactory, rooms32: Path, tiny_pixel_path: Path) -> Path:
    """The checkpoint/ of a 2-step warm-up (normal, depth, semseg) on the tiny pixel UNet."""
    out = tmp_path_factory.mktemp("pixel_run") / "run"
    assert main(warmup_args(rooms32, tiny_pixel_path, out)) == 0
    return out / "checkpoint"
