"""Reader of the project's layout as a torch Dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..tasks import BINARY_TASKS, DEPTH, HUMAN_PART_CLASSES, HUMAN_PARTS, NORMAL, SEMSEG, check_tasks
from .codecs import decode_depth, decode_normal, decode_probability, decode_semseg, open_png
from .layout import MODALITY_EXT, list_ids, read_meta, sample_path


class LayoutDataset(Dataset):
    """Samples of ``root/split`` in the project layout.

    Items are dicts: ``id``; ``image`` float 3xHxW in [0, 1]; per task, ``depth`` float 1xHxW metres
    (0 = invalid), ``normal`` float 3xHxW unit (all-zero = invalid), ``semseg`` and ``human_parts`` int64
    HxW (255 = ignore), ``edge`` and ``saliency`` float 1xHxW in [0, 1];
    ``mask`` {task: bool HxW}; ``caption`` (empty string if none); ``kappa`` 1xHxW when stored.
    """

    def __init__(self, root: str | Path, split: str = "train", tasks: list[str] | None = None):
        self.root = Path(root)
        self.split = split
        self.meta = read_meta(self.root)
        self.tasks = check_tasks(tasks if tasks is not None else self.meta["tasks"], where=f"{self.root}")
        missing = [t for t in self.tasks if t not in self.meta["tasks"]]
        if missing:
            raise ValueError(f"{self.root}/meta.json: data set has tasks {self.meta['tasks']}, not {missing}")
        self.ids = list_ids(self.root, split)
        self.num_classes = len(self.meta["classes"])

    def __len__(self) -> int:
        return len(self.ids)

    def _path(self, modality: str, sample_id: str) -> Path:
        return sample_path(self.root, self.split, modality, sample_id)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample_id = self.ids[index]
        image = open_png(self._path("image", sample_id))
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        size = image.shape[:2]
        item: dict[str, Any] = {"id": sample_id, "image": torch.from_numpy(image[..., :3].copy()).permute(2, 0, 1).float() / 255}
        item["mask"] = {}
        for task in self.tasks:
            path = self._path(task, sample_id)
            raw = open_png(path)
            if raw.shape[:2] != size:
                raise ValueError(f"{path}: size {raw.shape[:2]} does not match its image {tuple(size)}")
            if task == NORMAL:
                normal, valid = decode_normal(raw)
                item[NORMAL] = torch.from_numpy(normal).permute(2, 0, 1)
            elif task == DEPTH:
                depth, valid = decode_depth(raw)
                item[DEPTH] = torch.from_numpy(depth)[None]
            elif task == SEMSEG:
                labels, valid = decode_semseg(raw, self.num_classes, path)
                item[SEMSEG] = torch.from_numpy(labels)
            elif task == HUMAN_PARTS:
                labels, valid = decode_semseg(raw, len(HUMAN_PART_CLASSES), path)
                item[HUMAN_PARTS] = torch.from_numpy(labels)
            elif task in BINARY_TASKS:
                prob, valid = decode_probability(raw)
                item[task] = torch.from_numpy(prob)[None]
            item["mask"][task] = torch.from_numpy(valid)
        caption_path = self._path("caption", sample_id)
        item["caption"] = caption_path.read_text().strip() if caption_path.is_file() else ""
        kappa_path = self._path("kappa", sample_id)
        if kappa_path.is_file():
            item["kappa"] = torch.from_numpy(open_png(kappa_path).astype(np.float32) / 100)[None]
        return item


__all__ = ["LayoutDataset", "MODALITY_EXT"]
