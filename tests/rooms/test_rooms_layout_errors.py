"""A damaged rooms folder fails with an error naming the file, not with a crash deep inside training."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diff2in1.data.dataset import LayoutDataset
from diff2in1.data.rooms import RoomsConfig, generate_rooms


@pytest.fixture
def rooms(tmp_path: Path) -> Path:
    generate_rooms(RoomsConfig(out=str(tmp_path / "rooms"), num=3, size=16, seed=0, test_fraction=0.0), progress=False)
    return tmp_path / "rooms"


def test_intact_folder_reads(rooms):
    dataset = LayoutDataset(rooms, "train")
    item = dataset[1]
    assert len(dataset) == 3 and item["id"] == "000001" and item["caption"].startswith("a room with")
    assert item["image"].shape == (3, 16, 16) and item["depth"].shape == (1, 16, 16)
    assert item["normal"].shape == (3, 16, 16) and item["semseg"].shape == (16, 16)
    assert all(mask.all() for mask in item["mask"].values())


def test_missing_label_file(rooms):
    path = rooms / "train" / "depth" / "000001.png"
    path.unlink()
    with pytest.raises(FileNotFoundError, match=rf"{re.escape(str(path))}: file not found"):
        LayoutDataset(rooms, "train")[1]


@pytest.mark.parametrize("modality", ["image", "semseg"])
def test_corrupt_png(rooms, modality):
    path = rooms / "train" / modality / "000002.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))  # a PNG signature, then garbage
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: unreadable or corrupt image"):
        LayoutDataset(rooms, "train")[2]


def test_label_size_differs_from_image(rooms):
    path = rooms / "train" / "normal" / "000000.png"
    Image.fromarray(np.full((8, 16, 3), 128, dtype=np.uint8)).save(path)
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: size \(8, 16\) does not match its image \(16, 16\)"):
        LayoutDataset(rooms, "train")[0]


def test_class_index_out_of_range(rooms):
    path = rooms / "train" / "semseg" / "000000.png"
    Image.fromarray(np.full((16, 16), 6, dtype=np.uint8)).save(path)
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: class index 6 out of range for 6 classes"):
        LayoutDataset(rooms, "train")[0]


def test_unknown_or_absent_task(rooms):
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['edges'\]; known tasks are"):
        LayoutDataset(rooms, "train", tasks=["depth", "edges"])
    meta = json.loads((rooms / "meta.json").read_text())
    meta["tasks"] = ["depth"]
    (rooms / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"meta\.json: data set has tasks \['depth'\], not \['normal'\]"):
        LayoutDataset(rooms, "train", tasks=["normal"])
    meta["tasks"] = ["depth", "albedo"]
    (rooms / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"meta\.json: unknown task\(s\) \['albedo'\]"):
        LayoutDataset(rooms, "train")


def test_missing_folder_meta_or_split(rooms, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere: data-set folder not found"):
        LayoutDataset(tmp_path / "nowhere", "train")
    with pytest.raises(FileNotFoundError, match=r"test/image: split 'test' has no image folder"):
        LayoutDataset(rooms, "test")
    (rooms / "meta.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"meta\.json: file not found"):
        LayoutDataset(rooms, "train")
