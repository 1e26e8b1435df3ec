"""Tables of fp16 entries, one row per sample: in RAM, or in memory-mapped files on a local disk.

θC's target bank (``self_improving/teacher.py``) keeps its targets of a whole pool here: an entry is one
tensor per level (a task's map), and each table holds N x views rows of every level.

On disk (``DiskStore``) each level is one raw file ``level<j>.bin`` (N x views x C x h x w, fp16) beside
``layout.json`` (the shapes). Entries are written with ``pwrite`` and read through a memory map opened for
that read only, so the process holds one batch at a time and its RAM does not grow with the pool (the
page cache, which the kernel can reclaim, holds the rest).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..fileio import read_json, write_json


class RamStore:
    """Entries in RAM tensors, allocated when the first entry gives their shapes."""

    def __init__(self, num: int, views: int, dtype: torch.dtype = torch.float16):
        self.num, self.views, self.dtype = num, views, dtype
        self.levels: list[torch.Tensor] = []

    def write(self, index: int, view: int, levels: list[torch.Tensor]) -> None:
        if not self.levels:
            self.levels = [torch.zeros(self.num, self.views, *t.shape, dtype=self.dtype) for t in levels]
        for storage, level in zip(self.levels, levels):
            storage[index, view] = level

    def read(self, indices: torch.Tensor, views: torch.Tensor) -> list[torch.Tensor]:
        return [level[indices, views] for level in self.levels]


class DiskStore:
    """Entries in memory-mapped files under ``folder`` (see the module docstring)."""

    def __init__(self, folder: str | Path, num: int, views: int):
        self.folder, self.num, self.views = Path(folder), num, views
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shapes: list[tuple[int, ...]] = []
        layout = self.folder / "layout.json"
        if layout.is_file():
            info = read_json(layout)
            if info["num"] != self.num or info["views"] != self.views:
                raise ValueError(f"{layout}: holds {info['num']} x {info['views']} entries, expected {self.num} x "
                                 f"{self.views}; delete the folder to rebuild it")
            self.shapes = [tuple(s) for s in info["shapes"]]

    def _create(self, levels: list[torch.Tensor]) -> None:
        self.shapes = [tuple(t.shape) for t in levels]
        for j, shape in enumerate(self.shapes):
            with open(self.folder / f"level{j}.bin", "wb") as handle:  # sparse: zeros cost no disk
                handle.truncate(self.num * self.views * int(np.prod(shape)) * 2)
        write_json(self.folder / "layout.json", {"num": self.num, "views": self.views,
                                                 "shapes": [list(s) for s in self.shapes], "dtype": "float16"})

    def write(self, index: int, view: int, levels: list[torch.Tensor]) -> None:
        if not self.shapes:
            self._create(levels)
        entry = index * self.views + view
        for j, (shape, level) in enumerate(zip(self.shapes, levels)):
            data = level.to(torch.float16).contiguous().numpy().tobytes()
            fd = os.open(self.folder / f"level{j}.bin", os.O_WRONLY)
            try:
                os.pwrite(fd, data, entry * int(np.prod(shape)) * 2)
            finally:
                os.close(fd)

    def read(self, indices: torch.Tensor, views: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for j, shape in enumerate(self.shapes):
            table = np.memmap(self.folder / f"level{j}.bin", dtype=np.float16, mode="r",
                              shape=(self.num, self.views, *shape))
            out.append(torch.from_numpy(np.ascontiguousarray(table[indices.numpy(), views.numpy()])))
            del table  # unmapped now: the pages leave this process's memory
        return out
