"""Backbones loaded from the tiny folders, once per test module (tests that change one load their own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diff2in1.backbones import DiffusionBackbone, load_backbone


@pytest.fixture(scope="module")
def sd_backbone(tiny_sd_path: Path) -> DiffusionBackbone:
    return load_backbone("stable_diffusion", tiny_sd_path)


@pytest.fixture(scope="module")
def pixel_backbone(tiny_pixel_path: Path) -> DiffusionBackbone:
    return load_backbone("pixel", tiny_pixel_path)


@pytest.fixture(params=["sd", "pixel"])
def backbone(request: pytest.FixtureRequest) -> DiffusionBackbone:
    """Each backbone kind in turn."""
    return request.getfixturevalue(f"{request.param}_backbone")
