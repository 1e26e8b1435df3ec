"""`diff2in1 data rooms` writes a data set every other command can read from its meta.json alone."""

from __future__ import annotations

import json

import pytest

from diff2in1.cli.main import main
from diff2in1.data.dataset import LayoutDataset
from diff2in1.data.layout import list_ids
from diff2in1.data.rooms.render import intrinsics


def test_data_rooms_writes_meta_and_splits(tmp_path, capsys):
    out = tmp_path / "rooms"
    argv = ["data", "rooms", "--out", str(out), "--num", "10", "--size", "16", "--seed", "3", "--test-fraction", "0.3"]
    assert main(argv) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tasks"] == ["normal", "depth", "semseg", "edge", "saliency"]
    assert meta["classes"] == ["floor", "wall", "ceiling", "box", "sphere", "cylinder"]
    assert meta["image_size"] == [16, 16]
    low, high = meta["depth_range"]
    assert 0 < low < high
    assert meta["intrinsics"] == pytest.approx(intrinsics(16, 60.0))
    assert meta["intrinsics"]["fx"] == pytest.approx(8 / 0.5773502691896257)  # (size / 2) / tan(30 deg)
    assert meta["generator"]["seed"] == 3 and meta["generator"]["test_fraction"] == 0.3
    assert len(list_ids(out, "train")) == 7 and len(list_ids(out, "test")) == 3
    assert "splits: train 7, test 3" in capsys.readouterr().out
    depths = LayoutDataset(out, "test")[0]["depth"]
    assert low <= depths.min() and depths.max() <= high  # the range stated covers the depths written


def test_data_rooms_bad_options_exit_with_message(tmp_path, capsys):
    assert main(["data", "rooms", "--out", str(tmp_path), "--num", "2", "--test-fraction", "1.0"]) == 1
    assert "0 <= test_fraction < 1" in capsys.readouterr().err
    assert main(["data", "rooms", "--out", str(tmp_path), "--num", "2", "--size", "16"]) == 0
    assert main(["data", "rooms", "--out", str(tmp_path), "--num", "4", "--size", "32"]) == 1
    assert "rendered with size=16, not 32" in capsys.readouterr().err
