"""open_dataset: names, the project layout, flat image folders, and its errors."""

from __future__ import annotations

import pytest
import torch
from readers_fakes import make_layout, rgb, save_image

from diff2in1.data.dataset import LayoutDataset
from diff2in1.data.open import DATASET_NAMES, open_dataset


def test_unknown_name_lists_known_names(tmp_path):
    with pytest.raises(ValueError, match=r"unknown data set 'nyu'; known data sets: \['nyuv2_normals'"):
        open_dataset("nyu", tmp_path)
    assert set(DATASET_NAMES) >= {"nyuv2_normals", "nyuv2", "ade20k", "nyud_mt", "pascal_context", "rooms", "folder", "images"}
    with pytest.raises(FileNotFoundError, match="nowhere: not found"):
        open_dataset("ade20k", tmp_path / "nowhere")


def test_layout_folder_and_rooms(tmp_path):
    root = make_layout(tmp_path / "rooms")
    for name in ("rooms", "folder"):
        dataset = open_dataset(name, root, "train")
        assert isinstance(dataset, LayoutDataset) and dataset.ids == ["s0", "s1"]
        assert dataset.classes == ["floor", "wall"] and dataset.num_classes == 2 and dataset.unsupported_tasks == []
    item = open_dataset("rooms", root, "train", tasks=["depth"])[0]
    assert item["caption"] == "a room with a red box" and "semseg" not in item
    with pytest.raises(FileNotFoundError, match=r"meta\.json: file not found; 'rooms' expects"):
        open_dataset("rooms", tmp_path, "train")


def test_flat_image_folder(tmp_path):
    save_image(tmp_path / "pics" / "b.jpg", rgb(5, 7, 0))
    save_image(tmp_path / "pics" / "a.png", rgb(4, 4, 1))
    for name in ("folder", "images"):
        dataset = open_dataset(name, tmp_path / "pics")
        assert dataset.ids == ["a", "b"] and dataset.tasks == [] and dataset.classes == []
        item = dataset[1]
        assert set(item) == {"id", "image", "caption"} and item["image"].shape == (3, 5, 7)
        assert item["image"].dtype == torch.float32 and 0 <= item["image"].min() <= item["image"].max() <= 1
    with pytest.raises(ValueError, match=r"no meta\.json.*cannot give \['depth'\]"):
        open_dataset("folder", tmp_path / "pics", tasks=["depth"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no image file found"):
        open_dataset("images", tmp_path / "empty")
