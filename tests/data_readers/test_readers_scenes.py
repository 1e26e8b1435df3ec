"""ADE20K, NYUD-MT and PASCAL-Context in their distributed layouts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch
from readers_fakes import make_ade20k, make_nyud_mt, make_pascal_mt, save_image

from diff2in1.data.open import open_dataset


def test_ade20k_labels_and_splits(tmp_path):
    root = make_ade20k(tmp_path / "ADEChallengeData2016")
    train = open_dataset("ade20k", root, "train")
    assert train.ids == ["ADE_train_00000001", "ADE_train_00000002"]
    assert train.num_classes == 150 and train.classes[0] == "wall" and train.classes[149] == "flag"
    item = train[0]
    assert item["image"].shape == (3, 10, 14) and item["semseg"].dtype == torch.int64
    assert item["semseg"][0, :3].tolist() == [255, 0, 149] and item["semseg"][5, 5] == 4
    assert item["mask"]["semseg"][0, :3].tolist() == [False, True, True]
    val = open_dataset("ade20k", tmp_path, "test")  # the parent of ADEChallengeData2016 works too
    assert val.ids[0] == "ADE_val_00000001"


def test_ade20k_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"images/training: folder not found; expected the training images"):
        open_dataset("ade20k", tmp_path, "train")
    root = make_ade20k(tmp_path / "ade")
    save_image(root / "annotations" / "training" / "ADE_train_00000002.png", np.full((10, 14), 151, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"ADE_train_00000002\.png: class index 150 out of range for 150 classes"):
        open_dataset("ade20k", root, "train")[1]


@pytest.mark.parametrize("variant", ["npy", "png"])
def test_nyud_mt(tmp_path, variant):
    root = make_nyud_mt(tmp_path / "NYUD_MT", variant)
    train = open_dataset("nyud_mt", root, "train")
    assert train.unsupported_tasks == [] and train.ids == ["0001", "0002"]
    assert train.tasks == ["semseg", "depth", "normal", "edge"] and train.num_classes == 40
    item = train[0]
    assert item["semseg"][0, :3].tolist() == [255, 0, 39] and item["semseg"][4, 4] == 6
    assert item["depth"][0, 0, 0] == pytest.approx(2.5) and not item["mask"]["depth"][1, 1]
    assert torch.allclose(item["normal"][:, 0, 0], torch.tensor([0.0, -1.0, 0.0]), atol=0.01)
    assert not item["mask"]["normal"][2, 2] and torch.equal(item["normal"][:, 2, 2], torch.zeros(3))
    assert item["edge"].shape == (1, 8, 10) and item["edge"][0].sum(dim=0).tolist() == [0] * 4 + [8] + [0] * 5
    assert item["mask"]["edge"].all()
    val = open_dataset("nyud_mt", root, "test", tasks=["depth"])
    assert val.ids == ["0003"] and set(val[0]) == {"id", "image", "depth", "mask", "caption"}


def test_nyud_mt_errors(tmp_path):
    root = make_nyud_mt(tmp_path / "NYUD_MT")
    (root / "gt_sets" / "val.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"gt_sets/val\.txt: split file not found"):
        open_dataset("nyud_mt", root, "val")
    save_image(root / "segmentation" / "0002.png", np.full((8, 10), 41, dtype=np.uint8))
    train = open_dataset("nyud_mt", root, "train")
    with pytest.raises(ValueError, match=r"0002\.png: class index 40 out of range for 40 classes"):
        train[1]
    with pytest.raises(FileNotFoundError, match=r"images: folder not found"):
        open_dataset("nyud_mt", tmp_path, "train")
    with pytest.raises(ValueError, match=r"no \['normal'\] labels; it has \['semseg'\]"):
        open_dataset("ade20k", tmp_path, "train", tasks=["normal"])


def test_pascal_context(tmp_path):
    root = make_pascal_mt(tmp_path / "PASCAL_MT")
    train = open_dataset("pascal_context", root, "train")
    assert train.unsupported_tasks == [] and train.tasks == ["semseg", "normal", "edge", "human_parts", "saliency"]
    assert train.ids == ["2008_000002"] and train.num_classes == 21 and train.classes[15] == "person"
    item = train[0]
    assert item["semseg"][0, :3].tolist() == [0, 255, 15]
    assert item["mask"]["semseg"][0, :3].tolist() == [True, False, True]
    # Distilled normals are kept only on classes NYUv2 also has (wall), not on aeroplane.
    assert item["mask"]["normal"][:, 2:].all() and not item["mask"]["normal"][:, :2].any()
    assert torch.allclose(item["normal"][:, 3, 5], torch.tensor([1.0, 0.0, 0.0]), atol=0.01)
    scipy.io.savemat(root / "pascal-context" / "trainval" / "2008_000002.mat", {"labels": np.zeros((6, 8))})
    with pytest.raises(ValueError, match=r"2008_000002\.mat: no field 'LabelMap' \(fields found: \['labels'\]\)"):
        train[0]
    with pytest.raises(FileNotFoundError, match=r"ImageSets/Context/train\.txt: split file not found"):
        open_dataset("pascal_context", _only_images(tmp_path), "train")


def _only_images(tmp_path):
    target = tmp_path / "only_images"
    (target / "JPEGImages").mkdir(parents=True)
    (target / "semseg").mkdir()
    (target / "normals_distill").mkdir()
    return target


def test_pascal_context_boundaries_parts_and_saliency(tmp_path):
    root = make_pascal_mt(tmp_path / "PASCAL_MT")
    item = open_dataset("pascal_context", root, "train")[0]
    # LabelMap: aeroplane in columns 0-1, wall elsewhere: the boundary is column 1 (left of the change)
    assert item["edge"][0].sum(dim=0).tolist() == [0, 6, 0, 0, 0, 0, 0, 0]
    assert item["saliency"][0, 3, 4] == 1 and item["saliency"][0, 0, 0] == 0 and item["saliency"].sum() == 9
    parts = item["human_parts"]
    # head (1) on row 0, torso (2) on rows 1-3, left lower leg (6) in column 4 of rows 4-5; the dog's head is
    # not a person's part; what the person's parts leave uncovered is background
    assert parts[0, 4:6].tolist() == [1, 1] and parts[2, 4:6].tolist() == [2, 2]
    assert parts[5, 4:6].tolist() == [6, 0] and parts[0, 0] == 0 and item["mask"]["human_parts"].all()
    no_person = open_dataset("pascal_context", root, "test", tasks=["human_parts"])[0]
    assert not no_person["human_parts"].any()  # no file: no person, all background


def test_pascal_context_without_the_optional_folders_reads_the_rest(tmp_path):
    import shutil

    root = make_pascal_mt(tmp_path / "PASCAL_MT")
    shutil.rmtree(root / "human_parts")
    shutil.rmtree(root / "sal_distill")
    assert open_dataset("pascal_context", root, "train").tasks == ["semseg", "normal", "edge"]
    with pytest.raises(FileNotFoundError, match=r"sal_distill: folder not found; expected the saliency labels"):
        open_dataset("pascal_context", root, "train", tasks=["saliency"])
