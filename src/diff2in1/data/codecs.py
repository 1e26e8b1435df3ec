"""PNG encodings of the label modalities (shared by the layout writer and every reader).

- normal: 8-bit RGB, n = 2 * rgb / 255 - 1 (Bae et al.'s NYUv2 release); all-zero pixel = invalid.
- depth: 16-bit grey, millimetres; 0 = invalid.
- semseg, human_parts: 8-bit grey, class index; 255 = ignore.
- edge, saliency: 8-bit grey, probability x 255 (ground truth holds 0 and 255; created labels keep θC's
  probability); every pixel is valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..tasks import IGNORE_INDEX


def open_png(path: str | Path) -> np.ndarray:
    """Read an image file into a numpy array, or raise ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path}: unreadable or corrupt image ({err})") from err


def encode_normal(normal: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """HxWx3 unit normals in [-1, 1] -> HxWx3 uint8; invalid pixels become (0, 0, 0)."""
    rgb = np.clip(np.round((normal + 1.0) * 127.5), 1, 255).astype(np.uint8)
    if valid is not None:
        rgb[~valid] = 0
    return rgb


def decode_normal(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HxWx3 uint8 -> (HxWx3 float32 unit normals, HxW bool validity). Invalid normals are all-zero."""
    rgb = rgb[..., :3]
    valid = rgb.any(axis=-1)
    n = rgb.astype(np.float32) / 127.5 - 1.0
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    valid &= norm[..., 0] > 0.5
    n = np.where(valid[..., None], n / np.maximum(norm, 1e-6), 0.0).astype(np.float32)
    return n, valid


def encode_depth(depth_m: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """HxW metres -> HxW uint16 millimetres (0 = invalid; values beyond 65.535 m are clipped)."""
    mm = np.clip(np.round(depth_m * 1000.0), 0, 65535).astype(np.uint16)
    if valid is not None:
        mm[~valid] = 0
    return mm


def decode_depth(mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HxW uint16 millimetres -> (HxW float32 metres, HxW bool validity)."""
    if mm.ndim == 3:
        mm = mm[..., 0]
    depth = mm.astype(np.float32) / 1000.0
    return depth, depth > 0


def encode_probability(prob: np.ndarray) -> np.ndarray:
    """HxW probability (or 0/1 label) in [0, 1] -> HxW uint8, round(p * 255)."""
    return np.clip(np.round(np.nan_to_num(np.asarray(prob, dtype=np.float64)) * 255.0), 0, 255).astype(np.uint8)


def decode_probability(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HxW uint8 -> (HxW float32 probability in [0, 1], HxW bool validity, all True)."""
    if grey.ndim == 3:
        grey = grey[..., 0]
    return grey.astype(np.float32) / 255.0, np.ones(grey.shape, dtype=bool)


def decode_semseg(labels: np.ndarray, num_classes: int, path: str | Path = "semseg") -> tuple[np.ndarray, np.ndarray]:
    """HxW uint8 -> (HxW int64 labels, HxW bool validity); a label >= num_classes other than 255 is an error."""
    if labels.ndim == 3:
        labels = labels[..., 0]
    labels = labels.astype(np.int64)
    bad = (labels >= num_classes) & (labels != IGNORE_INDEX)
    if bad.any():
        raise ValueError(
            f"{path}: class index {int(labels[bad].max())} out of range for {num_classes} classes "
            f"(meta.json 'classes'); use 255 for ignored pixels"
        )
    return labels, labels != IGNORE_INDEX
