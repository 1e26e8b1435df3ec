"""Load a folder of images (the project layout's train split, or a flat folder) for pretraining."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .codecs import open_png

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def image_files(folder: str | Path, split: str = "train") -> list[Path]:
    """Images of ``folder/split/image`` when ``folder`` is in the project layout, else of ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: image folder not found")
    source = folder / split / "image" if (folder / "meta.json").is_file() else folder
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{source}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return files


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to ``size`` (bicubic); HxWx3 uint8 in and out."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    image = image[top : top + side, left : left + side]
    if side != size:
        image = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))
    return image


def load_images(folder: str | Path, size: int, split: str = "train", limit: int | None = None) -> torch.Tensor:
    """All images as one uint8 tensor Nx3xSxS (small data sets fit in memory, which keeps loading off the GPU's path)."""
    files = image_files(folder, split)[:limit]
    out = torch.empty(len(files), 3, size, size, dtype=torch.uint8)
    for i, path in enumerate(files):
        image = open_png(path)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        out[i] = torch.from_numpy(square_resize(image[..., :3], size).copy()).permute(2, 0, 1)
    return out
