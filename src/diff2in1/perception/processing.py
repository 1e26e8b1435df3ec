"""Images of any size in, square model-size canvases out, and predictions mapped back to each image.

The backbones are trained on square images (e.g. 512x512 for SD v1.5, 64x64 for rooms64). An image of
another shape is resized so its LONG side is the model's side, keeping its aspect ratio, and padded on both
sides by repeating its border pixels (a squash to a square would stretch the scene the head sees). The
predictions are cropped back to the image's region and resized to its original size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data.readers.resize import resize_prediction
from ..tasks import CLASS_TASKS, DEPTH

ImageInput = Image.Image | np.ndarray | torch.Tensor
Preds = dict[str, dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Placement:
    """Where an image of ``size`` (H, W) sits on the canvas: resized to ``resized`` (h, w) at (top, left)."""

    size: tuple[int, int]
    resized: tuple[int, int]
    top: int
    left: int


def _one_image(image: ImageInput) -> torch.Tensor:
    """A PIL image, an HxW(x3/4) array or a 3xHxW tensor -> 3xHxW float32 in [0, 1] (uint8 scaled by 1/255)."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        array = np.repeat(image[..., None], 3, -1) if image.ndim == 2 else image[..., :3]
        if array.ndim != 3:
            raise ValueError(f"an image array must be HxW or HxWx3, got shape {image.shape}")
        if np.issubdtype(array.dtype, np.integer):  # 8- or 16-bit pixels: scaled by their type's maximum
            array = array.astype(np.float32) / np.iinfo(array.dtype).max
        tensor = torch.from_numpy(np.array(array)).permute(2, 0, 1)  # a copy: PIL arrays are read-only
    elif isinstance(image, torch.Tensor):
        tensor = image[None].expand(3, -1, -1) if image.ndim == 2 else image
        if tensor.ndim != 3 or tensor.shape[0] not in (1, 3):
            raise ValueError(f"an image tensor must be 3xHxW (or HxW), got shape {tuple(image.shape)}")
        tensor = tensor.expand(3, -1, -1)
    else:
        raise TypeError(f"images must be PIL images, numpy arrays or torch tensors, got {type(image).__name__}")
    if tensor.dtype == torch.uint8:
        return tensor.float().div(255)
    return tensor.float()


def as_image_list(images: ImageInput | Sequence[ImageInput]) -> tuple[list[torch.Tensor], bool]:
    """Every image as 3xHxW float32 in [0, 1], and whether the input was a batch.

    One image: a PIL image, an HxW or HxWx3 array, a 3xHxW tensor. A batch: a list or tuple of those, a
    BxHxWx3 array or a Bx3xHxW tensor. Float inputs are taken to be in [0, 1] already; integer arrays are
    scaled by their type's maximum (255 for uint8, 65535 for uint16), uint8 tensors by 255.
    """
    if isinstance(images, (list, tuple)):
        return [_one_image(image) for image in images], True
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return [_one_image(image) for image in images], True
    if isinstance(images, torch.Tensor) and images.ndim == 4:
        return [_one_image(image) for image in images], True
    return [_one_image(images)], False


def to_canvas(image: torch.Tensor, side: int) -> tuple[torch.Tensor, Placement]:
    """A 3xHxW image resized (long side = ``side``, aspect kept) and edge-padded to 3 x side x side, centred.

    Centring keeps the canvas of a mirrored image the mirror of the canvas (to a pixel), which the flip
    ensemble relies on. An image already side x side is returned unchanged.
    """
    height, width = (int(s) for s in image.shape[-2:])
    scale = side / max(height, width)
    resized = (max(1, round(height * scale)), max(1, round(width * scale)))
    batch = image[None]
    if resized != (height, width):
        batch = F.interpolate(batch, size=resized, mode="bilinear", align_corners=False, antialias=True)
    top, left = (side - resized[0]) // 2, (side - resized[1]) // 2
    pad = (left, side - resized[1] - left, top, side - resized[0] - top)
    if any(pad):
        batch = F.pad(batch, pad, mode="replicate")
    return batch[0], Placement((height, width), resized, top, left)


def _crop(tensor: torch.Tensor, placement: Placement) -> torch.Tensor:
    h, w = placement.resized
    return tensor[..., placement.top:placement.top + h, placement.left:placement.left + w]


def canvas_to_image(canvas: torch.Tensor, placement: Placement) -> torch.Tensor:
    """Bx3 x side x side created images -> Bx3xHxW at the placement's original size (in [0, 1])."""
    crop = _crop(canvas, placement)
    if tuple(crop.shape[-2:]) == placement.size:
        return crop
    return F.interpolate(crop, size=placement.size, mode="bilinear", align_corners=False).clamp(0, 1)


def preds_to_image(preds: Preds, placement: Placement) -> Preds:
    """Head outputs on a canvas (batch 1) -> the same outputs at the image's own size.

    Normals are resampled and re-normalised, depth and kappa resampled bilinearly; class maps are the
    argmax of the resampled scores, so class borders follow the scores rather than the coarse canvas grid.
    """
    out: Preds = {}
    for task, values in preds.items():
        mapped: dict[str, Any] = {}
        for key, value in values.items():
            crop = _crop(value, placement)
            if tuple(crop.shape[-2:]) == placement.size or not value.is_floating_point():
                mapped[key] = crop
                continue
            mapped[key] = resize_prediction(crop, placement.size, DEPTH if key == "kappa" else task)
        if task in CLASS_TASKS and "logits" in mapped:
            mapped[task] = mapped["logits"].argmax(dim=1)
        elif task in CLASS_TASKS and tuple(mapped[task].shape[-2:]) != placement.size:
            mapped[task] = resize_prediction(mapped[task], placement.size, task)
        out[task] = mapped
    return out
