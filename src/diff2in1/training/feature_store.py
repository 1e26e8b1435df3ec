"""Where the feature cache keeps its entries: in RAM, or in memory-mapped files on a local disk.

An entry is the features of one (image, view) pair: one fp16 tensor per feature level. Both stores
hold a table N x views per level and a done flag per entry.

On disk (``DiskStore``) each level is one raw file ``level<j>.bin`` (N x views x C x h x w, fp16) beside
``done.bin`` (N x views bytes) and ``layout.json`` (the shapes). Entries are written with ``pwrite`` and
read through a memory map opened for that read only, so the process holds one batch of features at a
time and its RAM does not grow with the data set (the page cache, which the kernel can reclaim, holds the
rest). Processes on one machine share the files, hence one copy of the features: each writes the
entries it computes and sees the others' through the done flags. The folder must be on a disk local to
the machine (each machine of a multi-node run has its own).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..fileio import read_json, write_json


class RamStore:
    """Entries in RAM tensors, allocated when the first entry gives their shapes."""

    def __init__(self, num: int, views: int, dtype: torch.dtype = torch.float16):
        self.num, self.views, self.dtype = num, views, dtype
        self.levels: list[torch.Tensor] = []
        self.flags = torch.zeros(num, views, dtype=torch.bool)

    def done(self, index: int, view: int) -> bool:
        return bool(self.flags[index, view])

    def write(self, index: int, view: int, levels: list[torch.Tensor]) -> None:
        if not self.levels:
            self.levels = [torch.zeros(self.num, self.views, *t.shape, dtype=self.dtype) for t in levels]
        for storage, level in zip(self.levels, levels):
            storage[index, view] = level
        self.flags[index, view] = True

    def read(self, indices: torch.Tensor, views: torch.Tensor) -> list[torch.Tensor]:
        return [level[indices, views] for level in self.levels]


def _create_sized(path: Path, size: int) -> None:
    """A zero-filled (sparse) file of ``size`` bytes, made by exactly one of the processes racing to."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.ftruncate(fd, size)
        os.close(fd)
        os.link(tmp, path)  # atomic and exclusive: a file another process made first is kept
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


class DiskStore:
    """Entries in memory-mapped files under ``folder`` (see the module docstring)."""

    def __init__(self, folder: str | Path, num: int, views: int):
        self.folder, self.num, self.views = Path(folder), num, views
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shapes: list[tuple[int, ...]] = []
        self.flags = np.zeros((num, views), dtype=bool)  # entries known done; others are looked up on disk
        self._load_layout()

    def _load_layout(self) -> None:
        layout = self.folder / "layout.json"
        if not layout.is_file():
            return
        info = read_json(layout)
        if info["num"] != self.num or info["views"] != self.views:
            raise ValueError(f"{layout}: holds {info['num']} x {info['views']} entries, expected {self.num} x "
                             f"{self.views}; delete the folder to rebuild it")
        self.shapes = [tuple(s) for s in info["shapes"]]
        self.flags = np.fromfile(self.folder / "done.bin", dtype=np.uint8).reshape(self.num, self.views) > 0

    def _create(self, levels: list[torch.Tensor]) -> None:
        shapes = [tuple(t.shape) for t in levels]
        _create_sized(self.folder / "done.bin", self.num * self.views)
        for j, shape in enumerate(shapes):
            _create_sized(self.folder / f"level{j}.bin", self.num * self.views * int(np.prod(shape)) * 2)
        if not (self.folder / "layout.json").is_file():
            write_json(self.folder / "layout.json", {"num": self.num, "views": self.views,
                                                     "shapes": [list(s) for s in shapes], "dtype": "float16"})
        self.shapes = shapes

    def done(self, index: int, view: int) -> bool:
        if self.flags[index, view]:
            return True
        if not self.shapes:
            self._load_layout()
            return bool(self.flags[index, view])
        with open(self.folder / "done.bin", "rb") as handle:
            handle.seek(index * self.views + view)
            self.flags[index, view] = handle.read(1) == b"\x01"
        return bool(self.flags[index, view])

    def write(self, index: int, view: int, levels: list[torch.Tensor]) -> None:
        if not self.shapes:
            self._create(levels)
        entry = index * self.views + view
        for j, (shape, level) in enumerate(zip(self.shapes, levels)):
            data = level.to(torch.float16).contiguous().numpy().tobytes()
            self._pwrite(f"level{j}.bin", data, entry * int(np.prod(shape)) * 2)
        self._pwrite("done.bin", b"\x01", entry)  # after the data: a reader never sees a flag before its entry
        self.flags[index, view] = True

    def _pwrite(self, name: str, data: bytes, offset: int) -> None:
        fd = os.open(self.folder / name, os.O_WRONLY)
        try:
            os.pwrite(fd, data, offset)
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
