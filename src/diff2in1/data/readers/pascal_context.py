"""PASCAL-Context for multi-task learning (PASCAL_MT), as distributed by ASTMT / Vandenhende et al.

Expected folder (PASCAL_MT.tgz, the same layout is used by MTI-Net, ATRC and InvPT)::

    ROOT/ImageSets/Context/train.txt, val.txt   one id per line (4998 / 5105)
    ROOT/JPEGImages/<id>.jpg
    ROOT/semseg/VOC12/<id>.png                  8-bit, 0 = background, 1..20 = VOC classes, 255 = ignore
    ROOT/semseg/pascal-context/<id>.png         (same encoding; used when VOC12 has no file for the id)
    ROOT/normals_distill/<id>.png               8-bit RGB, n = 2 * rgb / 255 - 1 (distilled, not measured)
    ROOT/pascal-context/trainval/<id>.mat       'LabelMap', the 459-class PASCAL-Context labels
    ROOT/human_parts/<id>.mat                   PASCAL-Part objects and their parts (no file: no person)
    ROOT/sal_distill/<id>.png                   8-bit distilled saliency, salient where >= 128

Semantic labels are the 21 classes of the multi-task works (background is a class). As in those works,
distilled normals are kept only on pixels whose LabelMap class also exists in NYUv2 (plus tvmonitor);
every other pixel is invalid. Boundaries (``edge``) are where the LabelMap changes between a pixel
and its right or lower neighbour (lines one pixel wide; ASTMT marks both sides and thins them). Human
parts are PASCAL-Part's person parts in 7 classes (``pascal_parts.py``); images without a person are all
background, and the part mIoU leaves them out. Saliency is the distilled map cut at 0.5. Read into the
project layout they are ``DIR/{split}/edge/<id>.png``, ``saliency/`` and ``human_parts/`` (see
``data/layout.py``). Splits: ``train`` -> train.txt, ``test`` and ``val`` -> val.txt. By default the
reader takes the semantic labels and normals and, when their folders exist, the other three tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...tasks import EDGE, HUMAN_PARTS, NORMAL, SALIENCY, SEMSEG
from ..codecs import decode_normal, open_png
from .base import (
    ReaderDataset,
    check_labels,
    check_size,
    make_item,
    read_id_list,
    read_rgb,
    require_dir,
    resolve_split,
)
from .classes import PASCAL_MT_CLASSES, PASCAL_NORMAL_VALID_IDS
from .pascal_parts import read_human_parts

SPLITS = {"train": "train", "test": "val", "val": "val"}
OPTIONAL = {EDGE: "pascal-context/trainval", HUMAN_PARTS: "human_parts", SALIENCY: "sal_distill"}
FIX = "Pass the PASCAL_MT folder that holds JPEGImages/, ImageSets/Context/, semseg/ and normals_distill/."


def read_label_map(path: Path) -> np.ndarray:
    """The 459-class 'LabelMap' of a PASCAL-Context .mat file (HxW int)."""
    import scipy.io

    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: file not found; the PASCAL-Context LabelMap is needed to mask the distilled normals. {FIX}"
        )
    try:
        content = scipy.io.loadmat(str(path))
    except (ValueError, NotImplementedError, OSError) as err:
        raise ValueError(f"{path}: not a readable MATLAB file ({err})") from err
    if "LabelMap" not in content:
        fields = sorted(k for k in content if not k.startswith("__"))
        raise ValueError(f"{path}: no field 'LabelMap' (fields found: {fields}); expected a PASCAL-Context label file")
    return np.asarray(content["LabelMap"])


class PascalContextMT(ReaderDataset):
    """PASCAL-Context (multi-task release): semantic labels (21 classes), distilled normals, boundaries,
    human parts and distilled saliency."""

    name = "pascal_context"
    available_tasks = (SEMSEG, NORMAL, EDGE, HUMAN_PARTS, SALIENCY)
    caption_template = "a photo"

    def __init__(self, root: str | Path, split: str = "train", tasks: list[str] | None = None):
        if tasks is None:
            tasks = [t for t in self.available_tasks if t not in OPTIONAL or (Path(root) / OPTIONAL[t]).is_dir()]
        super().__init__(root, split, tasks)
        split_name = resolve_split(split, SPLITS, where=f"{self.name} at {self.root}")
        require_dir(self.root, "the PASCAL_MT folder", FIX)
        self.image_dir = require_dir(self.root / "JPEGImages", "the images (<id>.jpg)", FIX)
        if SEMSEG in self.tasks:
            require_dir(self.root / "semseg", "semseg/VOC12 and semseg/pascal-context", FIX)
        if NORMAL in self.tasks:
            require_dir(self.root / "normals_distill", "the distilled normals (<id>.png)", FIX)
        for task, folder in OPTIONAL.items():
            if task in self.tasks:
                require_dir(self.root / folder, f"the {task} labels", FIX)
        self.ids = read_id_list(self.root / "ImageSets" / "Context" / f"{split_name}.txt", FIX)
        self.classes = list(PASCAL_MT_CLASSES)

    def image_path(self, index: int) -> Path:
        return self.image_dir / f"{self.ids[index]}.jpg"

    def _semseg(self, sample_id: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        candidates = [self.root / "semseg" / sub / f"{sample_id}.png" for sub in ("VOC12", "pascal-context")]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"{candidates[0]}: no semantic label for '{sample_id}' (nor in {candidates[1]})")
        raw = open_png(path)
        if raw.ndim == 3:
            raw = raw[..., 0]
        check_size(raw, size, path)
        labels = check_labels(raw, len(PASCAL_MT_CLASSES), path, "PASCAL_MT files hold 0..20 and 255 = ignore")
        return labels, labels != 255

    def _normal(self, sample_id: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        path = self.root / "normals_distill" / f"{sample_id}.png"
        raw = open_png(path)
        check_size(raw, size, path)
        normal, valid = decode_normal(raw)
        label_path = self.root / "pascal-context" / "trainval" / f"{sample_id}.mat"
        label_map = read_label_map(label_path)
        check_size(label_map, size, label_path)
        valid &= np.isin(label_map, list(PASCAL_NORMAL_VALID_IDS))
        return np.where(valid[..., None], normal, 0.0).astype(np.float32), valid

    def _edge(self, sample_id: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        path = self.root / "pascal-context" / "trainval" / f"{sample_id}.mat"
        label_map = read_label_map(path)
        check_size(label_map, size, path)
        edge = np.zeros(size, dtype=bool)
        edge[:, :-1] |= label_map[:, :-1] != label_map[:, 1:]
        edge[:-1, :] |= label_map[:-1, :] != label_map[1:, :]
        return edge.astype(np.float32), np.ones(size, dtype=bool)

    def _saliency(self, sample_id: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        path = self.root / "sal_distill" / f"{sample_id}.png"
        raw = open_png(path)
        raw = raw[..., 0] if raw.ndim == 3 else raw
        check_size(raw, size, path)
        return (raw >= 128).astype(np.float32), np.ones(size, dtype=bool)

    def _human_parts(self, sample_id: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        return read_human_parts(self.root / "human_parts" / f"{sample_id}.mat", size), np.ones(size, dtype=bool)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample_id = self.ids[index]
        image = read_rgb(self.image_path(index))
        readers = {SEMSEG: self._semseg, NORMAL: self._normal, EDGE: self._edge, SALIENCY: self._saliency,
                   HUMAN_PARTS: self._human_parts}
        labels = {task: readers[task](sample_id, image.shape[:2]) for task in self.tasks}
        return make_item(sample_id, image, labels, self.read_caption(sample_id))
