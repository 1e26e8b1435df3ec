"""The same seed gives the same rooms, in memory and on disk, however the folder was filled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diff2in1.data.layout import list_ids, write_meta
from diff2in1.data.rooms import RoomsConfig, generate_rooms
from diff2in1.data.rooms.generate import render_index, split_of

ARRAYS = ("image", "depth", "normal", "semseg", "edge", "saliency")


def sample_files(root: Path) -> dict[str, bytes]:
    """Every sample file under ``root`` (not meta.json, which records the output folder), by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*/*")) if p.is_file()}


def test_same_seed_same_arrays_other_seed_differs():
    first, again = render_index(3, RoomsConfig(size=32, seed=5)), render_index(3, RoomsConfig(size=32, seed=5))
    other = render_index(3, RoomsConfig(size=32, seed=6))
    for key in ARRAYS:
        assert np.array_equal(first[key], again[key]), key
    assert first["caption"] == again["caption"]
    assert not np.array_equal(first["image"], other["image"])
    assert not np.array_equal(first["depth"], other["depth"])
    # Each image has its own random stream: a neighbour in the same run is a different room.
    assert not np.array_equal(first["depth"], render_index(4, RoomsConfig(size=32, seed=5))["depth"])


def test_same_seed_same_files_with_any_number_of_workers(tmp_path):
    generate_rooms(RoomsConfig(out=str(tmp_path / "a"), num=5, size=16, seed=2), progress=False)
    generate_rooms(RoomsConfig(out=str(tmp_path / "b"), num=5, size=16, seed=2, workers=2), progress=False)
    generate_rooms(RoomsConfig(out=str(tmp_path / "c"), num=5, size=16, seed=3), progress=False)
    a, b, c = (sample_files(tmp_path / name) for name in "abc")
    assert len(a) == 5 * 7  # image, depth, normal, semseg, edge, saliency, caption per sample
    assert a == b
    assert a.keys() == c.keys() and all(a[k] != c[k] for k in a if k.endswith("image/000000.png"))


@pytest.mark.parametrize("first_num", [10, 6])  # run twice; resume with a larger --num
def test_resume_keeps_files_and_split_rule(tmp_path, first_num):
    config = RoomsConfig(out=str(tmp_path / "grown"), num=first_num, size=16, seed=1, test_fraction=0.2)
    generate_rooms(config, progress=False)
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (tmp_path / "grown").glob("*/image/*.png")}
    config.num = 10
    generate_rooms(config, progress=False)
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (tmp_path / "grown").glob("*/image/*.png")}
    assert {k: after[k] for k in before} == before  # kept (possibly moved), not rendered again
    for split in ("train", "test"):
        assert list_ids(config.out, split) == [f"{i:06d}" for i in range(10) if split_of(i, config) == split]
    assert len(list_ids(config.out, "test")) == 2
    fresh = RoomsConfig(out=str(tmp_path / "fresh"), num=10, size=16, seed=1, test_fraction=0.2)
    generate_rooms(fresh, progress=False)
    assert sample_files(tmp_path / "grown") == sample_files(tmp_path / "fresh")


def test_interrupted_sample_is_rendered_again(tmp_path):
    config = RoomsConfig(out=str(tmp_path), num=3, size=16, seed=4)
    generate_rooms(config, progress=False)
    reference = sample_files(tmp_path)
    (tmp_path / "train" / "semseg" / "000001.png").unlink()  # as if killed between writing image and labels
    generate_rooms(config, progress=False)
    assert sample_files(tmp_path) == reference


def test_resume_refuses_other_render_options(tmp_path):
    generate_rooms(RoomsConfig(out=str(tmp_path), num=2, size=16, seed=0), progress=False)
    with pytest.raises(ValueError, match=r"meta\.json: the folder holds rooms rendered with size=16, not 32"):
        generate_rooms(RoomsConfig(out=str(tmp_path), num=4, size=32, seed=0), progress=False)
    with pytest.raises(ValueError, match=r"seed=0, not 1; use --seed 0"):
        generate_rooms(RoomsConfig(out=str(tmp_path), num=4, size=16, seed=1), progress=False)
    assert list_ids(tmp_path, "train") == ["000000", "000001"] and len(sample_files(tmp_path)) == 2 * 7
    other = tmp_path / "nyu"
    write_meta(other, {"name": "nyuv2", "tasks": ["depth"], "classes": [], "image_size": [480, 640]})
    with pytest.raises(ValueError, match=r"holds the data set 'nyuv2', not rooms; choose another --out"):
        generate_rooms(RoomsConfig(out=str(other), num=1, size=16), progress=False)
