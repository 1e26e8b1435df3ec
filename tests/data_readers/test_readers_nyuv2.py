"""NYUv2: official labelled .mat (HDF5 axis order, metres) and Bae et al.'s normals."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from readers_fakes import make_nyuv2_mat, make_nyuv2_normals

from diff2in1.data.open import open_dataset


@pytest.fixture(scope="module")
def nyu_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("nyuv2")
    arrays = make_nyuv2_mat(root)
    return root, arrays


def test_nyuv2_axis_order_units_and_splits(nyu_root):
    root, arrays = nyu_root
    train = open_dataset("nyuv2", root, "train")
    assert train.ids == ["000000", "000001"] and train.tasks == ["depth"]
    item = train[1]
    assert item["image"].shape == (3, 480, 640) and item["depth"].shape == (1, 480, 640)
    # The pixel MATLAB calls images(11, 21, 1, 2) (row 10, column 20 0-based) is image[:, 10, 20].
    assert item["image"][0, 10, 20] == pytest.approx(200 / 255)
    expected = torch.from_numpy(arrays["images"][..., 1].astype(np.float32) / 255).permute(2, 0, 1)
    assert torch.equal(item["image"], expected)
    assert item["depth"][0, 5, 600] == pytest.approx(3.25)  # metres, as stored
    assert item["mask"]["depth"].all() and item["caption"] == ""
    test = open_dataset("nyuv2", root / "nyu_depth_v2_labeled.mat", "test")
    assert test.ids == ["000002"] and len(test) == 1
    assert len(pickle.loads(pickle.dumps(train))) == 2  # DataLoader workers can copy it after use


def test_nyuv2_errors(tmp_path, nyu_root):
    root, _ = nyu_root
    with pytest.raises(FileNotFoundError, match="nyu_depth_v2_labeled.mat"):
        open_dataset("nyuv2", tmp_path, "train")
    bad = tmp_path / "bad"
    bad.mkdir()
    with h5py.File(bad / "nyu_depth_v2_labeled.mat", "w") as f:
        f["images"] = np.zeros((1, 3, 4, 3), dtype=np.uint8)
        f["rawDepths"] = np.zeros((1, 4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"no field\(s\) \['depths'\].*fields found: \['images', 'rawDepths'\]"):
        open_dataset("nyuv2", bad, "train")
    with pytest.raises(FileNotFoundError, match=r"splits\.mat.*split file not found"):
        open_dataset("nyuv2", _copy_without_splits(root, tmp_path), "train")
    scipy.io.savemat(bad / "splits.mat", {"train": np.array([[1]])})
    with h5py.File(bad / "nyu_depth_v2_labeled.mat", "a") as f:
        f["depths"] = np.zeros((1, 4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"splits\.mat: no field 'trainNdxs' \(fields found: \['train'\]\)"):
        open_dataset("nyuv2", bad, "train")
    scipy.io.savemat(bad / "splits.mat", {"trainNdxs": np.array([[1], [2]]), "testNdxs": np.array([[1]])})
    with pytest.raises(ValueError, match=r"splits\.mat: 'trainNdxs' holds index 2 .*outside the 1 images"):
        open_dataset("nyuv2", bad, "train")
    (bad / "nyu_depth_v2_labeled.mat").write_bytes(b"MATLAB 5.0 MAT-file, not HDF5")
    with pytest.raises(ValueError, match=r"nyu_depth_v2_labeled\.mat: not an HDF5"):
        open_dataset("nyuv2", bad, "train")


def _copy_without_splits(root, tmp_path):
    target = tmp_path / "nosplits"
    target.mkdir()
    (target / "nyu_depth_v2_labeled.mat").symlink_to(root / "nyu_depth_v2_labeled.mat")
    return target


def test_nyuv2_normals(tmp_path):
    root = make_nyuv2_normals(tmp_path / "nyu")
    train = open_dataset("nyuv2_normals", root, "train")
    assert train.ids == ["000002", "000003"] and train.tasks == ["normal"] and train.num_classes == 0
    item = train[0]
    assert item["image"].shape == (3, 12, 16) and item["normal"].shape == (3, 12, 16)
    assert torch.allclose(item["normal"][:, 5, 5], torch.tensor([0.0, 0.0, 1.0]), atol=0.01)
    assert not item["mask"]["normal"][0, 0] and item["mask"]["normal"].sum() == 12 * 16 - 1
    assert torch.equal(item["normal"][:, 0, 0], torch.zeros(3))
    assert open_dataset("nyuv2_normals", root, "test").ids == ["000000"]
    with pytest.raises(FileNotFoundError, match=r"train/img: folder not found; expected the RGB images"):
        open_dataset("nyuv2_normals", tmp_path, "train")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        open_dataset("nyuv2_normals", root, "dev")
