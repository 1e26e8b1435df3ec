"""NYUD-MT: NYUv2 for multi-task learning, as distributed by the multi-task works.

Two releases share one layout and differ in file types; both are read::

    ROOT/gt_sets/train.txt, val.txt      one id per line (795 / 654)
    ROOT/images/<id>.jpg | <id>.png      RGB (.jpg: NYUD_MT.tgz of ASTMT / Vandenhende et al.'s
                                         Multi-Task-Learning-PyTorch; .png: the NYUDv2 of ATRC / InvPT)
    ROOT/segmentation/<id>.png           8-bit, 0 = ignore, 1..40 = the 40 classes of Gupta et al.
    ROOT/depth/<id>.npy                  float HxW, metres, 0 = invalid
    ROOT/normals/<id>.npy | <id>.png     .npy: float HxWx3 in [-1, 1]; .png: n = 2 * rgb / 255 - 1;
                                         zero (or near-zero) vectors = invalid
    ROOT/edge/<id>.npy | <id>.png        boundaries: .npy float HxW, .png 8-bit; boundary where >= half
                                         the file's range (0.5 of 1, or 128 of 255)

Segmentation values are mapped v -> v - 1 (0..39) and 0 -> 255, as those works do ("we ignore the
background class"). Read into the project layout, boundaries are ``DIR/{split}/edge/<id>.png`` (0 / 255;
see ``data/layout.py``); by default the reader takes them when ``edge/`` exists. Splits: ``train`` -> gt_sets/train.txt, ``test`` and ``val`` -> gt_sets/val.txt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...tasks import DEPTH, EDGE, IGNORE_INDEX, NORMAL, SEMSEG
from ..codecs import decode_normal, open_png
from .base import (
    ReaderDataset,
    check_labels,
    check_size,
    find_file,
    load_npy,
    make_item,
    read_id_list,
    read_rgb,
    require_dir,
    resolve_split,
    unit_normals,
)
from .classes import NYU40_CLASSES

SPLITS = {"train": "train", "test": "val", "val": "val"}
FIX = (
    "Pass the NYUD_MT (or InvPT/ATRC NYUDv2) folder that holds gt_sets/, images/, segmentation/, "
    "depth/ and normals/."
)
FOLDERS = {SEMSEG: "segmentation", DEPTH: "depth", NORMAL: "normals", EDGE: "edge"}


def nyu40_labels(raw: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """HxW file values (0 = ignore, 1..40) -> (HxW int64 labels 0..39 with 255 = ignore, validity)."""
    if raw.ndim == 3:
        raw = raw[..., 0]
    raw = raw.astype(np.int64)
    labels = np.where((raw == 0) | (raw == IGNORE_INDEX), IGNORE_INDEX, raw - 1)
    labels = check_labels(labels, len(NYU40_CLASSES), path, "NYUD-MT files hold 0 = ignore and 1..40")
    return labels, labels != IGNORE_INDEX


def read_edge(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A boundary file (.npy float or 8-bit .png) -> (HxW float32 in {0, 1}, all-valid mask)."""
    raw = np.squeeze(load_npy(path) if path.suffix == ".npy" else open_png(path))
    raw = raw[..., 0] if raw.ndim == 3 else raw
    check_size(raw, size, path)
    top = 255.0 if path.suffix == ".png" or float(np.nanmax(raw, initial=0)) > 1 else 1.0
    return (np.nan_to_num(raw.astype(np.float32)) >= top / 2).astype(np.float32), np.ones(size, dtype=bool)


class NYUDMT(ReaderDataset):
    """NYUD-MT images with semantic labels (40 classes), depth (metres), normals and boundaries."""

    name = "nyud_mt"
    available_tasks = (SEMSEG, DEPTH, NORMAL, EDGE)
    caption_template = "an indoor scene"

    def __init__(self, root: str | Path, split: str = "train", tasks: list[str] | None = None):
        if tasks is None:
            tasks = [t for t in self.available_tasks if t != EDGE or (Path(root) / FOLDERS[EDGE]).is_dir()]
        super().__init__(root, split, tasks)
        split_name = resolve_split(split, SPLITS, where=f"{self.name} at {self.root}")
        require_dir(self.root, "the NYUD-MT folder", FIX)
        self.image_dir = require_dir(self.root / "images", "the RGB images (<id>.jpg or <id>.png)", FIX)
        for task in self.tasks:
            require_dir(self.root / FOLDERS[task], f"the {task} labels", FIX)
        self.ids = read_id_list(self.root / "gt_sets" / f"{split_name}.txt", FIX)
        self.classes = list(NYU40_CLASSES)

    def image_path(self, index: int) -> Path:
        return find_file(self.image_dir, self.ids[index], (".jpg", ".png"), "image")

    def _label(self, task: str, sample_id: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        folder = self.root / FOLDERS[task]
        if task == SEMSEG:
            path = folder / f"{sample_id}.png"
            raw = open_png(path)
            check_size(raw, size, path)
            return nyu40_labels(raw, path)
        if task == EDGE:
            return read_edge(find_file(folder, sample_id, (".npy", ".png"), "edge"), size)
        if task == DEPTH:
            path = folder / f"{sample_id}.npy"
            depth = np.squeeze(load_npy(path)).astype(np.float32)
            check_size(depth, size, path)
            valid = np.isfinite(depth) & (depth > 0)
            return np.where(valid, depth, 0.0).astype(np.float32), valid
        path = find_file(folder, sample_id, (".npy", ".png"), "normals")
        if path.suffix == ".npy":
            normal = load_npy(path)
            if normal.ndim != 3 or normal.shape[2] != 3:
                raise ValueError(f"{path}: expected HxWx3 normals, found shape {normal.shape}")
            check_size(normal, size, path)
            return unit_normals(normal)
        raw = open_png(path)
        check_size(raw, size, path)
        return decode_normal(raw)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample_id = self.ids[index]
        image = read_rgb(self.image_path(index))
        labels = {task: self._label(task, sample_id, image.shape[:2]) for task in self.tasks}
        return make_item(sample_id, image, labels, self.read_caption(sample_id))
