"""Tiny fake copies of the distributed data-set layouts, with the real file names and encodings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from diff2in1.data.layout import write_meta, write_sample


def save_image(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def rgb(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def make_nyuv2_mat(root: Path, n: int = 3, train=(1, 2), test=(3,)) -> dict:
    """nyu_depth_v2_labeled.mat as MATLAB v7.3 writes it (h5py sees N x 3 x W x H) and a v5 splits.mat.

    Returns the MATLAB-order (H x W x 3 x N) arrays for checking.
    """
    import h5py
    import scipy.io

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(480, 640, 3, n), dtype=np.uint8)  # MATLAB order
    depths = rng.uniform(0.5, 9.5, size=(480, 640, n)).astype(np.float32)  # metres
    images[10, 20, 0, 1] = 200  # image 2 (1-based), row 10, column 20, red
    depths[5, 600, 1] = 3.25
    root.mkdir(parents=True, exist_ok=True)
    with h5py.File(root / "nyu_depth_v2_labeled.mat", "w") as f:
        f["images"] = images.transpose(3, 2, 1, 0)  # column-major storage: dims reversed
        f["depths"] = depths.transpose(2, 1, 0)
        f["labels"] = np.zeros((n, 640, 480), dtype=np.uint16)
    scipy.io.savemat(
        root / "splits.mat",
        {"trainNdxs": np.array(train, dtype=np.float64)[:, None], "testNdxs": np.array(test, dtype=np.float64)[:, None]},
    )
    return {"images": images, "depths": depths}


def make_nyuv2_normals(root: Path) -> Path:
    """Bae et al.'s layout: {train,test}/img/<6 digits>.png and {train,test}/norm/<6 digits>.png."""
    for split, ids in (("train", ("000002", "000003")), ("test", ("000000",))):
        for k, sample_id in enumerate(ids):
            save_image(root / split / "img" / f"{sample_id}.png", rgb(12, 16, k))
            norm = np.zeros((12, 16, 3), dtype=np.uint8)
            norm[...] = (128, 128, 255)  # ~ (0, 0, 1)
            norm[0, 0] = 0  # no ground truth
            save_image(root / split / "norm" / f"{sample_id}.png", norm)
    return root


def make_ade20k(root: Path) -> Path:
    for split, prefix in (("training", "ADE_train"), ("validation", "ADE_val")):
        for k in (1, 2):
            sample_id = f"{prefix}_{k:08d}"
            save_image(root / "images" / split / f"{sample_id}.jpg", rgb(10, 14, k))
            labels = np.full((10, 14), 5, dtype=np.uint8)
            labels[0, 0], labels[0, 1], labels[0, 2] = 0, 1, 150
            save_image(root / "annotations" / split / f"{sample_id}.png", labels)
    return root


def make_nyud_mt(root: Path, variant: str = "npy") -> Path:
    """NYUD_MT.tgz layout (variant 'npy': .jpg images, .npy normals) or InvPT/ATRC ('png')."""
    ids = {"train": ["0001", "0002"], "val": ["0003"]}
    (root / "gt_sets").mkdir(parents=True, exist_ok=True)
    for split, names in ids.items():
        (root / "gt_sets" / f"{split}.txt").write_text("\n".join(names) + "\n")
        for k, sample_id in enumerate(names):
            image_suffix = ".jpg" if variant == "npy" else ".png"
            save_image(root / "images" / f"{sample_id}{image_suffix}", rgb(8, 10, k))
            seg = np.full((8, 10), 7, dtype=np.uint8)
            seg[0, 0], seg[0, 1], seg[0, 2] = 0, 1, 40
            save_image(root / "segmentation" / f"{sample_id}.png", seg)
            depth = np.full((8, 10), 2.5, dtype=np.float32)
            depth[1, 1] = 0.0
            (root / "depth").mkdir(exist_ok=True)
            np.save(root / "depth" / f"{sample_id}.npy", depth)
            (root / "normals").mkdir(exist_ok=True)
            (root / "edge").mkdir(exist_ok=True)
            if variant == "npy":
                normal = np.zeros((8, 10, 3), dtype=np.float32)
                normal[..., 1] = -1.0
                normal[2, 2] = 0.0
                np.save(root / "normals" / f"{sample_id}.npy", normal)
                edge = np.zeros((8, 10), dtype=np.float32)
                edge[:, 4] = 1.0
                np.save(root / "edge" / f"{sample_id}.npy", edge)
            else:
                normal = np.zeros((8, 10, 3), dtype=np.uint8)
                normal[...] = (128, 0, 128)  # ~ (0, -1, 0)
                normal[2, 2] = 0
                save_image(root / "normals" / f"{sample_id}.png", normal)
                edge = np.zeros((8, 10), dtype=np.uint8)
                edge[:, 4] = 255
                save_image(root / "edge" / f"{sample_id}.png", edge)
    return root


def make_pascal_mt(root: Path) -> Path:
    import scipy.io

    (root / "ImageSets" / "Context").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Context" / "train.txt").write_text("2008_000002\n")
    (root / "ImageSets" / "Context" / "val.txt").write_text("2008_000003\n")
    for k, sample_id in enumerate(("2008_000002", "2008_000003")):
        save_image(root / "JPEGImages" / f"{sample_id}.jpg", rgb(6, 8, k))
        seg = np.full((6, 8), 15, dtype=np.uint8)
        seg[0, 0], seg[0, 1] = 0, 255
        save_image(root / "semseg" / "pascal-context" / f"{sample_id}.png", seg)
        normal = np.zeros((6, 8, 3), dtype=np.uint8)
        normal[...] = (255, 128, 128)  # ~ (1, 0, 0)
        save_image(root / "normals_distill" / f"{sample_id}.png", normal)
        label_map = np.full((6, 8), 440, dtype=np.uint16)  # wall: shared with NYUv2, normals kept
        label_map[:, :2] = 2  # aeroplane: not an NYUv2 class, normals dropped
        (root / "pascal-context" / "trainval").mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(root / "pascal-context" / "trainval" / f"{sample_id}.mat", {"LabelMap": label_map})
        (root / "human_parts").mkdir(exist_ok=True)
        salient = np.zeros((6, 8), dtype=np.uint8)
        salient[2:5, 3:6] = 200
        salient[0, 0] = 100  # below half: not salient
        save_image(root / "sal_distill" / f"{sample_id}.png", salient)
    save_person_parts(root / "human_parts" / "2008_000002.mat")  # 2008_000003 has no person: no file
    return root


def save_person_parts(path: Path) -> None:
    """A PASCAL-Part annotation: a person with head, torso and a left lower leg, and a dog (not a person)."""
    import scipy.io

    def mask(rows, cols):
        m = np.zeros((6, 8), dtype=np.uint8)
        m[rows, cols] = 1
        return m

    parts = [{"part_name": "head", "mask": mask(slice(0, 1), slice(4, 6))},
             {"part_name": "torso", "mask": mask(slice(1, 4), slice(4, 6))},
             {"part_name": "llleg", "mask": mask(slice(4, 6), slice(4, 5))}]
    person = {"class": "person", "classIndex": 15, "mask": mask(slice(0, 6), slice(4, 6)),
              "parts": np.array(parts, dtype=object)}
    dog = {"class": "dog", "classIndex": 12, "mask": mask(slice(0, 2), slice(0, 2)),
           "parts": np.array([{"part_name": "head", "mask": mask(slice(0, 1), slice(0, 1))}], dtype=object)}
    scipy.io.savemat(path, {"anno": {"imname": path.stem, "objects": np.array([person, dog], dtype=object)}})


def make_layout(root, captions=True):
    write_meta(root, {"tasks": ["depth", "semseg"], "classes": ["floor", "wall"], "image_size": [6, 8]})
    for k, split in enumerate(("train", "train", "test")):
        write_sample(
            root, split, f"s{k}", rgb(6, 8, k), depth=np.full((6, 8), 1.5), semseg=np.ones((6, 8), dtype=np.uint8),
            caption="a room with a red box" if captions and k == 0 else None,
        )
    return root
