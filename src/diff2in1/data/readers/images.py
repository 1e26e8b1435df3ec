"""A flat folder of images, without labels: for pre-training, captioning and prediction.

    ROOT/<id>.png | .jpg | ...     any image type PIL reads; ids are the file names without suffix
    ROOT/caption/<id>.txt          optional captions

If ROOT holds no image but ROOT/<split> does, that sub-folder is read. Items hold only ``id``,
``image`` (float 3xHxW in [0, 1]) and ``caption``; ``tasks`` and ``classes`` are empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import IMAGE_SUFFIXES, ReaderDataset, make_item, read_rgb, require_dir


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ImageFolder(ReaderDataset):
    """Unlabelled images of one folder, sorted by file name."""

    name = "images"
    available_tasks = ()
    caption_template = None

    def __init__(self, root: str | Path, split: str = "train", tasks: list[str] | None = None):
        super().__init__(root, split, tasks)
        require_dir(self.root, "a folder of images", "Pass the folder that holds the image files.")
        files = list_images(self.root)
        if not files and (self.root / split).is_dir():
            self.root = self.root / split
            files = list_images(self.root)
        if not files:
            raise FileNotFoundError(
                f"{self.root}: no image file found ({', '.join(IMAGE_SUFFIXES)}); pass the folder that holds "
                f"the images, or a data set folder with meta.json for the project layout"
            )
        self.files = files
        self.ids = [p.stem for p in files]
        if len(set(self.ids)) != len(self.ids):
            dupes = sorted({i for i in self.ids if self.ids.count(i) > 1})[:5]
            raise ValueError(f"{self.root}: several files share the id(s) {dupes} (same name, other suffix); rename them")

    def image_path(self, index: int) -> Path:
        return self.files[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = make_item(self.ids[index], read_rgb(self.files[index]), {}, self.read_caption(self.ids[index]))
        del item["mask"]  # no labels, so no validity either
        return item
