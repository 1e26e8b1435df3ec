"""One entry point for every data set: ``open_dataset(name, root, split, tasks)``.

Names (see each reader's module for where to get the data and the folder it expects):

- ``nyuv2_normals``: NYUv2 surface normals of Bae et al. (readers/nyuv2_normals.py)
- ``nyuv2``: NYUv2 depth from the official nyu_depth_v2_labeled.mat + splits.mat (readers/nyuv2.py)
- ``ade20k``: ADEChallengeData2016 segmentation (readers/ade20k.py)
- ``nyud_mt``: NYUD-MT segmentation, depth, normals (readers/nyud_mt.py)
- ``pascal_context``: PASCAL-Context multi-task release, segmentation and normals (readers/pascal_context.py)
- ``rooms``: the procedural rooms, in the project layout (layout.py)
- ``folder``: a folder in the project layout (with meta.json), or else a flat folder of images
- ``images``: a flat folder of images without labels (readers/images.py)

Every data set yields the items of :class:`diff2in1.data.dataset.LayoutDataset` and has the attributes
``tasks``, ``classes``, ``num_classes``, ``ids``, ``unsupported_tasks`` and ``caption_template``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch.utils.data import Dataset

# Kept free of heavy imports so the CLI can list the names without importing torch.
READER_NAMES = ("nyuv2_normals", "nyuv2", "ade20k", "nyud_mt", "pascal_context", "images")
LAYOUT_NAMES = ("rooms", "folder")
DATASET_NAMES = READER_NAMES[:-1] + LAYOUT_NAMES + READER_NAMES[-1:]

# Prompt for samples without a caption file (diff2in1.data.captions.caption_for); None = empty + warning.
LAYOUT_CAPTION_TEMPLATES = {"rooms": "a room", "folder": None}


def _reader_class(name: str) -> type:
    from . import readers

    return {
        "nyuv2_normals": readers.NYUv2Normals,
        "nyuv2": readers.NYUv2Depth,
        "ade20k": readers.ADE20K,
        "nyud_mt": readers.NYUDMT,
        "pascal_context": readers.PascalContextMT,
        "images": readers.ImageFolder,
    }[name]


def _open_layout(name: str, root: Path, split: str, tasks: list[str] | None) -> Dataset:
    from .dataset import LayoutDataset

    if not (root / "meta.json").is_file():
        if name == "folder":
            if tasks:
                raise ValueError(
                    f"{root}: no meta.json, so it is read as a flat folder of unlabelled images and cannot give "
                    f"{tasks} labels; write the project layout (meta.json, {split}/image, {split}/<task>) or drop the tasks"
                )
            return _reader_class("images")(root, split)
        raise FileNotFoundError(
            f"{root / 'meta.json'}: file not found; '{name}' expects a data set in the project layout "
            f"(meta.json, train/image, test/image, ...). Generate the rooms data set first, or pass its folder."
        )
    dataset = LayoutDataset(root, split, tasks)
    if not hasattr(dataset, "classes"):
        dataset.classes = list(dataset.meta["classes"])
    dataset.unsupported_tasks = []
    dataset.caption_template = dataset.meta.get("caption_template", LAYOUT_CAPTION_TEMPLATES[name])
    return dataset


def open_dataset(name: str, root: str | Path, split: str = "train", tasks: list[str] | None = None) -> Dataset:
    """Open data set ``name`` at ``root``; ``split`` is train/test (val = test where a set has no test labels).

    ``tasks``: the labels to read (None = every task the data set has). Items: ``id``; ``image`` float
    3xHxW in [0, 1] at the original resolution; ``depth`` 1xHxW metres (0 = invalid); ``normal`` 3xHxW
    unit (all-zero = invalid); ``semseg`` int64 HxW (255 = ignore); ``mask`` {task: bool HxW};
    ``caption`` (empty string if none).
    """
    key = name.strip().lower().replace("-", "_")
    if key not in DATASET_NAMES:
        raise ValueError(f"unknown data set '{name}'; known data sets: {list(DATASET_NAMES)}")
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"{root}: not found; pass the folder of the '{key}' data set")
    if key in LAYOUT_NAMES:
        return _open_layout(key, root, split, tasks)
    return _reader_class(key)(root, split, tasks)


__all__ = ["DATASET_NAMES", "open_dataset"]
