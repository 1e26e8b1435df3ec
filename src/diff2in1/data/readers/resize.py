"""Resolution handling: fit samples to the backbone's size for training, map predictions back at test time.

Training (:func:`resize_sample`, :func:`center_crop`): the image is resampled bilinearly (anti-aliased);
labels and masks use nearest neighbour, because averaging would blend valid with invalid pixels (depth
0, normal (0, 0, 0)) and mix class indices.

Test time, metrics are computed at the original resolution. Either predict on a resized image and
bring the prediction back (:func:`predict_resized`), or pad to a multiple of the network's stride
(:func:`pad_to_multiple` / :func:`unpad`), or tile the image (:func:`sliding_window`). Predictions are
resampled by :func:`resize_prediction`: bilinear for depth, normals (then renormalised to unit length)
and class scores; nearest for integer class maps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ...tasks import CLASS_TASKS, NORMAL, TASKS

Size = int | tuple[int, int]
SPATIAL_KEYS = ("image", *TASKS, "kappa")


def _pair(size: Size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _resize_nearest(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of an HxW or CxHxW tensor of any dtype."""
    squeeze = x.ndim == 2
    y = x[None, None] if squeeze else x[None]
    out = F.interpolate(y.float(), size=size, mode="nearest-exact").to(x.dtype)
    return out[0, 0] if squeeze else out[0]


def _map_spatial(item: dict[str, Any], image_fn: Callable, label_fn: Callable) -> dict[str, Any]:
    out = dict(item)
    for key in SPATIAL_KEYS:
        if key in item:
            out[key] = image_fn(item[key]) if key == "image" else label_fn(item[key])
    if "mask" in item:
        out["mask"] = {task: label_fn(mask) for task, mask in item["mask"].items()}
    return out


def center_crop(item: dict[str, Any], size: Size) -> dict[str, Any]:
    """Crop every spatial entry of an item (image 3xHxW, labels, masks) to ``size`` (H, W) around the centre."""
    th, tw = _pair(size)
    h, w = item["image"].shape[-2:]
    if th > h or tw > w:
        raise ValueError(f"sample '{item.get('id')}': crop size {(th, tw)} is larger than the image {(h, w)}")
    top, left = (h - th) // 2, (w - tw) // 2

    def crop(x: torch.Tensor) -> torch.Tensor:
        return x[..., top : top + th, left : left + tw]

    return _map_spatial(item, crop, crop)


def resize_sample(item: dict[str, Any], size: Size, crop: bool = True) -> dict[str, Any]:
    """Resize an item to ``size`` (H, W) pixels for training.

    crop=True keeps the aspect ratio: the shorter side is scaled to cover ``size``, then the centre is
    cropped. crop=False stretches to ``size``. Depth keeps its unit (metres); normals keep their
    direction (resizing without rotating the camera does not change them).
    """
    th, tw = _pair(size)
    h, w = item["image"].shape[-2:]
    if crop:
        scale = max(th / h, tw / w)
        target = (max(th, round(h * scale)), max(tw, round(w * scale)))
    else:
        target = (th, tw)

    def image_fn(x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(x[None].float(), size=target, mode="bilinear", align_corners=False, antialias=True)
        return y[0].clamp(0, 1)

    out = _map_spatial(item, image_fn, lambda x: _resize_nearest(x, target))
    return center_crop(out, (th, tw)) if crop else out


def resize_prediction(pred: torch.Tensor, size: Size, task: str) -> torch.Tensor:
    """Resample a BxCxhxw prediction to ``size`` (H, W).

    semseg, human_parts: float scores/logits bilinear, integer class maps (BxHxW or Bx1xHxW) nearest;
    depth: bilinear (metres); normal: bilinear, then renormalised to unit length (zero stays zero);
    edge, saliency: probabilities bilinear.
    """
    size = _pair(size)
    if task in CLASS_TASKS and not pred.is_floating_point():
        squeeze = pred.ndim == 3
        out = F.interpolate((pred[:, None] if squeeze else pred).float(), size=size, mode="nearest-exact")
        out = out.to(pred.dtype)
        return out[:, 0] if squeeze else out
    out = F.interpolate(pred, size=size, mode="bilinear", align_corners=False)
    if task == NORMAL:
        out = out / out.norm(dim=1, keepdim=True).clamp_min(1e-6)
    return out


def predict_resized(
    image: torch.Tensor, size: Size, predict: Callable[[torch.Tensor], torch.Tensor], task: str
) -> torch.Tensor:
    """Resize a Bx3xHxW image to ``size``, run ``predict`` (Bx3xhxw -> BxCxh'xw') and return BxCxHxW."""
    h, w = image.shape[-2:]
    small = F.interpolate(image, size=_pair(size), mode="bilinear", align_corners=False, antialias=True)
    return resize_prediction(predict(small), (h, w), task)


def pad_to_multiple(image: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Reflect-pad a ...xHxW image so H and W are multiples of ``multiple``; returns (padded, (l, r, t, b))."""
    h, w = image.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    padding = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if not any(padding):
        return image, padding
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(image, padding, mode=mode), padding


def unpad(pred: torch.Tensor, padding: tuple[int, int, int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` on a ...xHxW prediction."""
    left, right, top, bottom = padding
    h, w = pred.shape[-2:]
    return pred[..., top : h - bottom, left : w - right]


def _starts(length: int, window: int, stride: int) -> list[int]:
    last = max(length - window, 0)
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


def sliding_window(
    image: torch.Tensor,
    window: Size,
    stride: Size,
    predict: Callable[[torch.Tensor], torch.Tensor],
    task: str,
) -> torch.Tensor:
    """Predict a Bx3xHxW image tile by tile and average the overlaps; returns BxCxHxW.

    ``predict`` maps Bx3xwh x ww tiles to BxCxh'xw' (a smaller output is resampled to the tile). Images
    smaller than the window are padded first. Normals are renormalised after averaging; semseg scores
    are averaged (take argmax afterwards).
    """
    (wh, ww), (sh, sw) = _pair(window), _pair(stride)
    h, w = image.shape[-2:]
    pad = (0, max(ww - w, 0), 0, max(wh - h, 0))
    if any(pad):
        image = F.pad(image, pad, mode="replicate")
    H, W = image.shape[-2:]
    total: torch.Tensor | None = None
    count = torch.zeros(1, 1, H, W, dtype=image.dtype, device=image.device)
    for top in _starts(H, wh, sh):
        for left in _starts(W, ww, sw):
            tile = predict(image[..., top : top + wh, left : left + ww])
            if tile.shape[-2:] != (wh, ww):
                tile = resize_prediction(tile, (wh, ww), task)
            if total is None:
                total = torch.zeros(*tile.shape[:2], H, W, dtype=tile.dtype, device=tile.device)
            total[..., top : top + wh, left : left + ww] += tile
            count[..., top : top + wh, left : left + ww] += 1
    out = (total / count)[..., :h, :w]
    if task == NORMAL:
        out = out / out.norm(dim=1, keepdim=True).clamp_min(1e-6)
    return out


__all__ = [
    "center_crop",
    "pad_to_multiple",
    "predict_resized",
    "resize_prediction",
    "resize_sample",
    "sliding_window",
    "unpad",
]
