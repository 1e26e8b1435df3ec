"""Shared pieces of the readers of distributed data sets.

Every reader yields the items of :class:`diff2in1.data.dataset.LayoutDataset`:

- ``id``: str, unique across the splits of a data set;
- ``image``: float32 3xHxW in [0, 1], at the file's own resolution;
- per task read, ``depth`` float32 1xHxW metres (0 = invalid), ``normal`` float32 3xHxW unit vectors
  (all-zero = invalid), ``semseg`` and ``human_parts`` int64 HxW (255 = ignore), ``edge`` and
  ``saliency`` float32 1xHxW in [0, 1];
- ``mask``: {task: bool HxW}, True where the label is valid;
- ``caption``: str, from ``<caption_dir>/<id>.txt`` when present, else "".

and has the attributes ``tasks``, ``classes``, ``num_classes``, ``ids``, ``unsupported_tasks`` and
``caption_template`` (the prompt used by :func:`diff2in1.data.captions.caption_for` when a sample has
no caption file).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ...tasks import BINARY_TASKS, CLASS_TASKS, DEPTH, IGNORE_INDEX, NORMAL, TASKS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def read_rgb(path: str | Path) -> np.ndarray:
    """Read any image file as HxWx3 uint8 RGB (grey, palette and RGBA are converted)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image file not found")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path}: unreadable or corrupt image ({err})") from err


def load_npy(path: Path) -> np.ndarray:
    """np.load without pickles, with errors naming the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a readable .npy array ({err})") from err


def resolve_split(split: str, aliases: dict[str, str], where: str) -> str:
    """Map a split name (``train``, ``test``, ``val``...) to the data set's own name for it."""
    if split not in aliases:
        raise ValueError(f"{where}: unknown split '{split}'; choose from {sorted(aliases)}")
    return aliases[split]


def require_dir(path: Path, what: str, fix: str) -> Path:
    """Return ``path`` if it is a folder, else raise FileNotFoundError saying what was expected there."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: folder not found; expected {what}. {fix}")
    return path


def read_id_list(path: Path, fix: str) -> list[str]:
    """Sample ids of a split file: one id per line, blank lines skipped."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: split file not found. {fix}")
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise ValueError(f"{path}: split file lists no sample. {fix}")
    return ids


def find_file(folder: Path, stem: str, suffixes: tuple[str, ...], what: str) -> Path:
    """The first ``folder/stem<suffix>`` that exists, or FileNotFoundError listing what was tried."""
    for suffix in suffixes:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    tried = ", ".join(f"{stem}{s}" for s in suffixes)
    raise FileNotFoundError(f"{folder}: no {what} file for sample '{stem}' (looked for {tried})")


def check_labels(labels: np.ndarray, num_classes: int, path: Path, encoding: str) -> np.ndarray:
    """Raise ValueError naming ``path`` if a label is neither < num_classes nor 255; return int64 labels."""
    labels = labels.astype(np.int64)
    bad = ((labels >= num_classes) & (labels != IGNORE_INDEX)) | (labels < 0)
    if bad.any():
        value = int(labels[bad].max()) if labels[bad].max() >= num_classes else int(labels[bad].min())
        raise ValueError(
            f"{path}: class index {value} out of range for {num_classes} classes ({encoding}); "
            f"check that this file belongs to the data set and split you opened"
        )
    return labels


def check_size(array: np.ndarray, size: tuple[int, ...], path: Path) -> None:
    if tuple(array.shape[:2]) != tuple(size):
        raise ValueError(f"{path}: label size {tuple(array.shape[:2])} does not match its image {tuple(size)}")


def unit_normals(normal: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """HxWx3 float normals -> (HxWx3 float32 unit normals, HxW bool validity); near-zero vectors are invalid."""
    normal = normal[..., :3].astype(np.float32)
    norm = np.linalg.norm(normal, axis=-1)
    ok = np.isfinite(norm) & (norm > 0.5)
    if valid is not None:
        ok &= valid
    out = np.where(ok[..., None], normal / np.maximum(norm, 1e-6)[..., None], 0.0).astype(np.float32)
    return out, ok


def make_item(sample_id: str, image: np.ndarray, labels: dict[str, tuple[np.ndarray, np.ndarray]], caption: str) -> dict[str, Any]:
    """Build an item from HxWx3 uint8 ``image`` and {task: (label array, HxW bool validity)} in numpy."""
    item: dict[str, Any] = {
        "id": sample_id,
        "image": torch.from_numpy(np.array(image[..., :3], dtype=np.uint8)).permute(2, 0, 1).float() / 255,
        "mask": {},
    }
    for task, (label, valid) in labels.items():
        if task == DEPTH:
            item[DEPTH] = torch.from_numpy(np.where(valid, label, 0).astype(np.float32))[None]
        elif task == NORMAL:
            item[NORMAL] = torch.from_numpy(np.ascontiguousarray(label, dtype=np.float32)).permute(2, 0, 1)
        elif task in CLASS_TASKS:
            item[task] = torch.from_numpy(np.where(valid, label, IGNORE_INDEX).astype(np.int64))
        elif task in BINARY_TASKS:
            item[task] = torch.from_numpy(np.ascontiguousarray(label, dtype=np.float32))[None]
        item["mask"][task] = torch.from_numpy(np.ascontiguousarray(valid, dtype=bool))
    item["caption"] = caption
    return item


def select_tasks(tasks: list[str] | tuple[str, ...] | None, available: tuple[str, ...], where: str) -> list[str]:
    """``tasks`` checked against the tasks a data set has (None = all of them, [] = images only)."""
    if tasks is None:
        return list(available)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"{where}: unknown task(s) {unknown}; known tasks are {list(TASKS)}")
    missing = [t for t in tasks if t not in available]
    if missing:
        raise ValueError(f"{where}: this data set has no {missing} labels; it has {list(available)}")
    return list(tasks)


class ReaderDataset(Dataset):
    """Base of the readers: ids, tasks, classes, captions. Subclasses fill ``ids`` and ``__getitem__``."""

    name = ""
    available_tasks: tuple[str, ...] = ()
    caption_template: str | None = "a photo"

    def __init__(self, root: str | Path, split: str, tasks: list[str] | None):
        self.root = Path(root)
        self.split = split
        self.tasks = select_tasks(tasks, self.available_tasks, where=f"{self.name} at {self.root}")
        self.ids: list[str] = []
        self.classes: list[str] = []
        self.unsupported_tasks: list[str] = []

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def caption_dir(self) -> Path:
        """Folder of the optional ``<id>.txt`` captions (written by ``diff2in1 caption``)."""
        return self.root / "caption"

    def caption_path(self, sample_id: str) -> Path:
        return self.caption_dir / f"{sample_id}.txt"

    def read_caption(self, sample_id: str) -> str:
        path = self.caption_path(sample_id)
        return path.read_text().strip() if path.is_file() else ""

    def image_path(self, index: int) -> Path | None:
        """The image file of sample ``index``, or None when images are not stored as files."""
        return None

    def report_unsupported(self, present: dict[str, Path]) -> None:
        """Record and warn about label folders of tasks that have no head in diff2in1."""
        self.unsupported_tasks = sorted(task for task, path in present.items() if path.exists())
        if self.unsupported_tasks:
            warnings.warn(
                f"{self.root}: {self.name} also has {self.unsupported_tasks} labels, which diff2in1 has no "
                f"head for; they are not read (see the dataset's 'unsupported_tasks')",
                stacklevel=3,
            )
