"""ADE20K semantic segmentation, the scene-parsing benchmark release ``ADEChallengeData2016``.

Expected folder (unzipped ADEChallengeData2016.zip from http://sceneparsing.csail.mit.edu)::

    ROOT/images/training/ADE_train_00000001.jpg       20210 images
    ROOT/images/validation/ADE_val_00000001.jpg       2000 images
    ROOT/annotations/training/ADE_train_00000001.png  8-bit, 0 = other (ignored), 1..150 = classes
    ROOT/annotations/validation/ADE_val_00000001.png

ROOT may also be the folder that contains ``ADEChallengeData2016``. Class names are built in, in the
order of the release's objectInfo150.txt. Labels are mapped v -> v - 1, so the
150 classes are 0..149 and "other" (0 in the file) becomes 255 = ignore. Splits: ``train`` -> training,
``test`` and ``val`` -> validation (the test images of the benchmark have no public labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...tasks import IGNORE_INDEX, SEMSEG
from ..codecs import open_png
from .base import ReaderDataset, check_labels, check_size, make_item, read_rgb, require_dir, resolve_split
from .classes import ADE20K_CLASSES

SPLITS = {"train": "training", "test": "validation", "val": "validation"}
FIX = "Pass the unzipped ADEChallengeData2016 folder (from http://sceneparsing.csail.mit.edu)."


def ade_labels(raw: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """HxW file values (0 = other, 1..150) -> (HxW int64 labels 0..149 with 255 = ignore, validity)."""
    if raw.ndim == 3:
        raw = raw[..., 0]
    raw = raw.astype(np.int64)
    labels = np.where(raw == 0, IGNORE_INDEX, raw - 1)
    labels = check_labels(labels, len(ADE20K_CLASSES), path, "ADE20K files hold 0 = other and 1..150")
    return labels, labels != IGNORE_INDEX


class ADE20K(ReaderDataset):
    """ADE20K (150 classes) images at their own resolution with semantic labels."""

    name = "ade20k"
    available_tasks = (SEMSEG,)
    caption_template = "a photo"

    def __init__(self, root: str | Path, split: str = "train", tasks: list[str] | None = None):
        root = Path(root)
        if not (root / "images").is_dir() and (root / "ADEChallengeData2016").is_dir():
            root = root / "ADEChallengeData2016"
        super().__init__(root, split, tasks)
        folder = resolve_split(split, SPLITS, where=f"{self.name} at {self.root}")
        require_dir(self.root, "ADEChallengeData2016 with images/ and annotations/", FIX)
        self.image_dir = require_dir(self.root / "images" / folder, f"the {folder} images (*.jpg)", FIX)
        self.label_dir = self.root / "annotations" / folder
        if SEMSEG in self.tasks:
            require_dir(self.label_dir, f"the {folder} annotations (*.png)", FIX)
        self.ids = sorted(p.stem for p in self.image_dir.glob("*.jpg"))
        if not self.ids:
            raise FileNotFoundError(f"{self.image_dir}: no .jpg image found. {FIX}")
        self.classes = list(ADE20K_CLASSES)

    def image_path(self, index: int) -> Path:
        return self.image_dir / f"{self.ids[index]}.jpg"

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample_id = self.ids[index]
        image = read_rgb(self.image_path(index))
        labels = {}
        if SEMSEG in self.tasks:
            path = self.label_dir / f"{sample_id}.png"
            raw = open_png(path)
            check_size(raw, image.shape[:2], path)
            labels[SEMSEG] = ade_labels(raw, path)
        return make_item(sample_id, image, labels, self.read_caption(sample_id))
