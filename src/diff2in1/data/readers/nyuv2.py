"""NYUv2 depth from the official labelled file ``nyu_depth_v2_labeled.mat`` (Silberman et al., ECCV 2012).

Expected folder::

    ROOT/nyu_depth_v2_labeled.mat   MATLAB v7.3 (an HDF5 file), 2.8 GB
    ROOT/splits.mat                 MATLAB v5, trainNdxs (795) and testNdxs (654), 1-based indices

Both come from https://cs.nyu.edu/~silberman/datasets/nyu_depth_v2.html (``splits.mat`` is linked there
as the official train/test split). ROOT may also be the path of the .mat file, with ``splits.mat`` beside it.

Axis order: MATLAB stores ``images`` as H x W x 3 x N and ``depths`` as H x W x N (H = 480, W = 640) in
column-major order, so h5py, which reads row-major, sees them reversed: ``images`` N x 3 x W x H and
``depths`` N x W x H. Pixel (row r, column c) of image n is therefore ``images[n, :, c, r]``; the reader
transposes so that ``item['image'][:, r, c]`` is that pixel and images come out 3 x 480 x 640.
``depths`` are in metres (in-painted, so nearly every pixel is valid); 0 or non-finite = invalid.

Ids are the 0-based index in the file, six digits (``000000`` = MATLAB index 1), as in Bae et al.'s
normals release. The number of images is read from the file, never assumed to be 1449.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...tasks import DEPTH
from .base import ReaderDataset, make_item, resolve_split

SPLITS = {"train": "trainNdxs", "test": "testNdxs", "val": "testNdxs"}
MAT_NAME = "nyu_depth_v2_labeled.mat"
SPLITS_NAME = "splits.mat"
URL = "https://cs.nyu.edu/~silberman/datasets/nyu_depth_v2.html"


def _locate(root: Path) -> tuple[Path, Path]:
    """(labelled .mat, splits.mat) for a folder or a path to the .mat file."""
    mat = root if root.suffix == ".mat" else root / MAT_NAME
    if not mat.is_file():
        raise FileNotFoundError(
            f"{mat}: file not found; expected the official NYUv2 labelled file {MAT_NAME} in {root}. "
            f"Download it from {URL} and pass the folder that holds it."
        )
    return mat, mat.parent / SPLITS_NAME


def read_split_indices(path: Path, key: str, count: int) -> list[int]:
    """0-based indices of a split from the official ``splits.mat`` (stored 1-based), checked against ``count``."""
    import scipy.io

    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: split file not found; put the official NYUv2 {SPLITS_NAME} (trainNdxs/testNdxs, "
            f"linked from {URL}) next to {MAT_NAME}"
        )
    try:
        content = scipy.io.loadmat(str(path))
    except (ValueError, NotImplementedError, OSError) as err:
        raise ValueError(f"{path}: not a readable MATLAB v5 file ({err}); download the official {SPLITS_NAME}") from err
    fields = sorted(k for k in content if not k.startswith("__"))
    if key not in content:
        raise ValueError(f"{path}: no field '{key}' (fields found: {fields}); expected the official {SPLITS_NAME}")
    indices = np.asarray(content[key]).ravel().astype(np.int64) - 1
    bad = indices[(indices < 0) | (indices >= count)]
    if bad.size:
        raise ValueError(
            f"{path}: '{key}' holds index {int(bad[0]) + 1} (1-based), outside the {count} images of "
            f"{MAT_NAME}; the split file does not belong to this .mat file"
        )
    return [int(i) for i in indices]


class NYUv2Depth(ReaderDataset):
    """NYUv2 images and depth (metres) from ``nyu_depth_v2_labeled.mat``; 795 train / 654 test officially."""

    name = "nyuv2"
    available_tasks = (DEPTH,)
    caption_template = "an indoor scene"

    def __init__(self, root: str | Path, split: str = "train", tasks: list[str] | None = None):
        super().__init__(root, split, tasks)
        key = resolve_split(split, SPLITS, where=f"{self.name} at {self.root}")
        self.mat_path, splits_path = _locate(self.root)
        with self._open() as handle:
            fields = sorted(handle.keys())
            missing = [f for f in ("images", "depths") if f not in handle]
            if missing:
                raise ValueError(
                    f"{self.mat_path}: no field(s) {missing} (fields found: {fields}); expected the official "
                    f"{MAT_NAME} from {URL}"
                )
            images, depths = handle["images"], handle["depths"]
            if images.ndim != 4 or images.shape[1] != 3 or depths.shape != (images.shape[0],) + images.shape[2:]:
                raise ValueError(
                    f"{self.mat_path}: 'images' has shape {images.shape} and 'depths' {depths.shape} as read by "
                    f"h5py; expected N x 3 x W x H and N x W x H (MATLAB v7.3 layout of the official file)"
                )
            self.num_images = int(images.shape[0])
            self.image_size = (int(images.shape[3]), int(images.shape[2]))  # (H, W)
        self.indices = read_split_indices(splits_path, key, self.num_images)
        self.ids = [f"{i:06d}" for i in self.indices]
        self._handle = None

    def _open(self):
        import h5py

        try:
            return h5py.File(self.mat_path, "r")
        except OSError as err:
            raise ValueError(
                f"{self.mat_path}: not an HDF5 (MATLAB v7.3) file ({err}); download the official {MAT_NAME} "
                f"from {URL}"
            ) from err

    def __getstate__(self) -> dict[str, Any]:
        # h5py handles cannot be pickled; each DataLoader worker opens its own.
        return {**self.__dict__, "_handle": None}

    @property
    def caption_dir(self) -> Path:
        return self.mat_path.parent / "caption"

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self._handle is None:
            self._handle = self._open()
        n = self.indices[index]
        image = np.asarray(self._handle["images"][n]).transpose(2, 1, 0)  # 3xWxH -> HxWx3
        labels = {}
        if DEPTH in self.tasks:
            depth = np.asarray(self._handle["depths"][n], dtype=np.float32).T  # WxH -> HxW
            valid = np.isfinite(depth) & (depth > 0)
            labels[DEPTH] = (np.where(valid, depth, 0.0).astype(np.float32), valid)
        return make_item(self.ids[index], image.astype(np.uint8), labels, self.read_caption(self.ids[index]))
