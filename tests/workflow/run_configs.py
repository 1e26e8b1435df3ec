"""A tiny `diff2in1 run` config: rooms at 16x16, the tiny pixel UNet, a few steps a stage."""

from __future__ import annotations

from pathlib import Path

import yaml


def tiny_run_config(tmp_path: Path, backbone: Path, **shared) -> Path:
    """Write it to tmp_path/run.yaml (``shared``: top-level keys added or replaced) and return the path."""
    config = {"out": str(tmp_path / "run"), "rooms": {"num": 10, "size": 16, "seed": 1, "test_fraction": 0.3},
              "data": str(tmp_path / "rooms"), "backbone": str(backbone), "num_labelled": 6, "batch_size": 2,
              "channels": 8, "progress": False, "report": False, **shared,
              "warmup": {"steps": 2}, "create": {"steps": 4, "batch_size": 4}, "improve": {"steps": 2}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
