"""Augmentations applied consistently to a batch's image and labels (on whatever device the batch is).

- horizontal flip: mirrors every map and negates the x component of normals (camera x points right);
- random resized crop: one crop per sample, images resampled bilinearly, labels and masks by nearest
  neighbour so valid and invalid pixels never mix; depth keeps its metric value;
- colour jitter: brightness, contrast and saturation of the image only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..tasks import NORMAL, TASKS

LABEL_KEYS = (*TASKS, "kappa")


@dataclass
class Augmentation:
    flip: bool = True
    crop_min_scale: float = 1.0  # 1.0 = no crop
    jitter: float = 0.0  # 0 = no colour change


def _flip(batch: dict[str, Any], which: torch.Tensor) -> None:
    def flip(x: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * (x.ndim - 1)
        return torch.where(which.view(shape), x.flip(-1), x)

    batch["image"] = flip(batch["image"])
    for key in LABEL_KEYS:
        if key in batch:
            batch[key] = flip(batch[key])
    if NORMAL in batch:
        sign = torch.where(which, -1.0, 1.0).to(batch[NORMAL].dtype).view(-1, 1, 1)
        batch[NORMAL] = torch.cat([batch[NORMAL][:, :1] * sign[:, None], batch[NORMAL][:, 1:]], dim=1)
    for task, mask in batch.get("mask", {}).items():
        batch["mask"][task] = flip(mask)


def _crop_grid(batch_size: int, min_scale: float, generator: torch.Generator | None, device) -> torch.Tensor:
    scale = torch.empty(batch_size).uniform_(min_scale, 1.0, generator=generator)
    centre = (torch.rand(batch_size, 2, generator=generator) * 2 - 1) * (1 - scale[:, None])
    theta = torch.zeros(batch_size, 2, 3)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = centre
    return theta.to(device)


def resample(x: torch.Tensor, theta: torch.Tensor, mode: str, padding: str = "border") -> torch.Tensor:
    """``x`` (BxCxHxW or BxHxW) sampled on the affine grid ``theta`` (Bx2x3), as float32."""
    squeeze = x.ndim == 3
    y = (x[:, None] if squeeze else x).float()
    grid = F.affine_grid(theta, list(y.shape), align_corners=False)
    out = F.grid_sample(y, grid, mode=mode, padding_mode=padding, align_corners=False)
    return out[:, 0] if squeeze else out


def _resample(x: torch.Tensor, theta: torch.Tensor, mode: str) -> torch.Tensor:
    return resample(x, theta, mode).to(x.dtype)


def _crop(batch: dict[str, Any], theta: torch.Tensor) -> None:
    batch["image"] = _resample(batch["image"], theta, "bilinear")
    for key in LABEL_KEYS:
        if key in batch:
            batch[key] = _resample(batch[key], theta, "nearest")
    for task, mask in batch.get("mask", {}).items():
        batch["mask"][task] = _resample(mask, theta, "nearest")


def jitter_colours(image: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Bx3xHxW images in [0, 1] with saturation, contrast and brightness scaled by ``factors`` (Bx3)."""
    factors = factors.to(image.device).view(-1, 3, 1, 1, 1)
    grey = image.mean(dim=1, keepdim=True)
    image = grey + (image - grey) * factors[:, 0]  # saturation
    mean = image.mean(dim=(1, 2, 3), keepdim=True)
    image = mean + (image - mean) * factors[:, 1]  # contrast
    return (image * factors[:, 2]).clamp(0, 1)  # brightness


def _jitter(image: torch.Tensor, strength: float, generator: torch.Generator | None) -> torch.Tensor:
    b = image.shape[0]
    draws = [1 + (torch.rand(b, generator=generator) * 2 - 1) * strength for _ in range(3)]
    return jitter_colours(image, torch.stack(draws, dim=1))


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random stream of one training step: a resumed run draws what an uninterrupted one drew."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def augment_batch(batch: dict[str, Any], aug: Augmentation, generator: torch.Generator | None = None) -> dict[str, Any]:
    """Augment a collated batch in place (and return it). Images Bx3xHxW in [0, 1].

    Sets ``batch["flipped"]`` (B bool) when flips are on, so cached features can follow the flip.
    """
    size = batch["image"].shape[0]
    if aug.flip:
        which = (torch.rand(size, generator=generator) < 0.5).to(batch["image"].device)
        _flip(batch, which)
        batch["flipped"] = which  # the feature cache serves the features of the flipped image
    if aug.crop_min_scale < 1.0:
        _crop(batch, _crop_grid(size, aug.crop_min_scale, generator, batch["image"].device))
    if aug.jitter > 0:
        batch["image"] = _jitter(batch["image"], aug.jitter, generator)
    return batch


def cacheable(aug: Augmentation) -> bool:
    """Flips are served from cached features of the flipped image; crops and colour changes are not."""
    return aug.crop_min_scale >= 1.0 and aug.jitter == 0
