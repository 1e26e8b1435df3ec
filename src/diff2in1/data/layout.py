"""The project's data-set layout, used by every command.

    DIR/meta.json
    DIR/{train,test}/image/<id>.png      RGB, 8-bit
    DIR/{train,test}/depth/<id>.png      16-bit, millimetres, 0 = invalid
    DIR/{train,test}/normal/<id>.png     8-bit RGB, n = 2 * rgb / 255 - 1, (0, 0, 0) = invalid
    DIR/{train,test}/semseg/<id>.png     8-bit class index, 255 = ignore
    DIR/{train,test}/edge/<id>.png       8-bit, boundary probability x 255 (ground truth: 0 or 255)
    DIR/{train,test}/saliency/<id>.png   8-bit, salient-object probability x 255 (ground truth: 0 or 255)
    DIR/{train,test}/human_parts/<id>.png  8-bit part index (diff2in1.tasks.HUMAN_PART_CLASSES: 0 =
                                         background, 1 head, 2 torso, 3 upper arms, 4 lower arms, 5 upper
                                         legs, 6 lower legs), 255 = ignore; an image without people is
                                         all 0 (background) and is left out of the part mIoU
    DIR/{train,test}/caption/<id>.txt    one line
    DIR/{train,test}/kappa/<id>.png      optional: normal confidence of created samples (16-bit)

meta.json holds at least ``tasks``, ``classes`` (index = label value), ``depth_range`` [min, max] in
metres and ``image_size`` [H, W]; ``classes`` names the ``semseg`` labels (human parts have their fixed
7); rooms adds ``intrinsics`` (fx, fy, cx, cy in pixels), created data
sets add ``synthetic: true`` and ``provenance``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..fileio import read_json, write_json
from ..tasks import check_tasks
from .codecs import encode_depth, encode_normal, encode_probability

SPLITS = ("train", "test")
MODALITY_EXT = {"image": "png", "depth": "png", "normal": "png", "semseg": "png", "edge": "png", "saliency": "png",
                "human_parts": "png", "caption": "txt", "kappa": "png"}


def sample_path(root: str | Path, split: str, modality: str, sample_id: str) -> Path:
    return Path(root) / split / modality / f"{sample_id}.{MODALITY_EXT[modality]}"


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    tmp.replace(path)


def write_sample(
    root: str | Path,
    split: str,
    sample_id: str,
    image: np.ndarray,
    depth: np.ndarray | None = None,
    normal: np.ndarray | None = None,
    semseg: np.ndarray | None = None,
    caption: str | None = None,
    valid: np.ndarray | None = None,
    kappa: np.ndarray | None = None,
    edge: np.ndarray | None = None,
    saliency: np.ndarray | None = None,
    human_parts: np.ndarray | None = None,
) -> None:
    """Write one sample. image: HxWx3 uint8; depth: HxW metres; normal: HxWx3 unit; semseg and human_parts:
    HxW uint8 (255 = ignore); edge and saliency: HxW probability (or 0/1) in [0, 1]."""
    _save_png(sample_path(root, split, "image", sample_id), image)
    if depth is not None:
        _save_png(sample_path(root, split, "depth", sample_id), encode_depth(depth, valid))
    if normal is not None:
        _save_png(sample_path(root, split, "normal", sample_id), encode_normal(normal, valid))
    if semseg is not None:
        _save_png(sample_path(root, split, "semseg", sample_id), semseg.astype(np.uint8))
    for name, prob in (("edge", edge), ("saliency", saliency)):
        if prob is not None:
            _save_png(sample_path(root, split, name, sample_id), encode_probability(prob))
    if human_parts is not None:
        _save_png(sample_path(root, split, "human_parts", sample_id), human_parts.astype(np.uint8))
    if kappa is not None:
        # Confidence stored as 16-bit fixed point (kappa * 100), enough for thresholds like kappa > 5.
        _save_png(sample_path(root, split, "kappa", sample_id), np.clip(kappa * 100, 0, 65535).astype(np.uint16))
    if caption is not None:
        path = sample_path(root, split, "caption", sample_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(caption.strip() + "\n")


def write_meta(root: str | Path, meta: dict[str, Any]) -> Path:
    check_tasks(meta.get("tasks", []), where=f"{root}/meta.json")
    return write_json(Path(root) / "meta.json", meta)


def read_meta(root: str | Path) -> dict[str, Any]:
    """Read and check DIR/meta.json."""
    path = Path(root) / "meta.json"
    if not Path(root).is_dir():
        raise FileNotFoundError(f"{root}: data-set folder not found")
    meta = read_json(path)
    for key in ("tasks", "classes", "image_size"):
        if key not in meta:
            raise ValueError(f"{path}: missing key '{key}' (see the data-set layout in the README)")
    check_tasks(meta["tasks"], where=str(path))
    return meta


def list_ids(root: str | Path, split: str) -> list[str]:
    """Sample ids of a split, from its image folder, sorted."""
    folder = Path(root) / split / "image"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: split '{split}' has no image folder")
    return sorted(p.stem for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
