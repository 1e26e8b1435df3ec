"""NYUv2 surface normals as released by Bae et al. (ICCV 2021, baegwangbin/surface_normal_uncertainty).

Expected folder (ROOT is the ``nyu`` folder of that release, ``datasets/nyu`` in its code)::

    ROOT/train/img/000002.png    RGB, 480x640, 795 images (official NYUv2 training split)
    ROOT/train/norm/000002.png   8-bit RGB normals, n = 2 * rgb / 255 - 1; (0, 0, 0) = no ground truth
    ROOT/test/img/000000.png     654 images (official test split)
    ROOT/test/norm/000000.png

The file names are the 0-based index of the image in ``nyu_depth_v2_labeled.mat`` (six digits), so they
match the ids of the ``nyuv2`` reader. The normals are kept exactly as stored: Bae et al.'s camera axes
(x along image columns, which is why their horizontal flip negates x; y and z as in their release) are
not converted to any other convention, so check the axes before mixing these labels with rooms data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...tasks import NORMAL
from ..codecs import decode_normal, open_png
from .base import IMAGE_SUFFIXES, ReaderDataset, check_size, make_item, read_rgb, require_dir, resolve_split

SPLITS = {"train": "train", "test": "test", "val": "test"}
FIX = (
    "Pass the 'nyu' folder of Bae et al.'s NYUv2 release (github.com/baegwangbin/surface_normal_uncertainty), "
    "the one that holds train/img, train/norm, test/img and test/norm."
)


class NYUv2Normals(ReaderDataset):
    """NYUv2 images with surface normals (795 train / 654 test in the release)."""

    name = "nyuv2_normals"
    available_tasks = (NORMAL,)
    caption_template = "an indoor scene"

    def __init__(self, root: str | Path, split: str = "train", tasks: list[str] | None = None):
        super().__init__(root, split, tasks)
        folder = resolve_split(split, SPLITS, where=f"{self.name} at {self.root}")
        require_dir(self.root, f"the NYUv2 normals folder with {folder}/img and {folder}/norm", FIX)
        self.image_dir = require_dir(self.root / folder / "img", "the RGB images (<id>.png)", FIX)
        self.normal_dir = require_dir(self.root / folder / "norm", "the normal maps (<id>.png)", FIX)
        self.ids = sorted(p.stem for p in self.image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.ids:
            raise FileNotFoundError(f"{self.image_dir}: no image found. {FIX}")
        self.classes = []

    def image_path(self, index: int) -> Path:
        return self.image_dir / f"{self.ids[index]}.png"

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample_id = self.ids[index]
        image = read_rgb(self.image_path(index))
        labels = {}
        if NORMAL in self.tasks:
            path = self.normal_dir / f"{sample_id}.png"
            raw = open_png(path)
            if raw.ndim != 3 or raw.shape[2] < 3:
                raise ValueError(f"{path}: expected an RGB normal map, found an array of shape {raw.shape}")
            check_size(raw, image.shape[:2], path)
            labels[NORMAL] = decode_normal(raw)
        return make_item(sample_id, image, labels, self.read_caption(sample_id))
