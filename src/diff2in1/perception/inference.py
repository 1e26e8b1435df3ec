"""Loading a trained perception checkpoint with its backbone, and predicting on images of any size."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..backbones import DiffusionBackbone
from ..data.readers.resize import resize_prediction
from ..heads import PerceptionModel
from .checkpoint import load_perception
from .splits import open_backbone


def open_checkpoint(folder: str | Path, which: str = "model", device: torch.device | str | None = None,
                    tasks: list[str] | None = None) -> tuple[DiffusionBackbone, PerceptionModel, dict[str, Any]]:
    """The checkpoint's head (θE or θC) and the backbone it was trained on, checked by fingerprint."""
    model, info = load_perception(folder, tasks=tasks, which=which)
    spec = info["backbone"]
    backbone = open_backbone(spec["spec"], spec["kind"], device, spec["perception_timestep"])
    if backbone.fingerprint() != spec["fingerprint"]:
        warnings.warn(f"{folder}: backbone {spec['spec']} differs from the one the head was trained on "
                      f"(fingerprint {backbone.fingerprint()} vs {spec['fingerprint']})", stacklevel=2)
    return backbone, model.to(backbone.device).eval(), info


@torch.no_grad()
def predict_images(backbone: DiffusionBackbone, model: PerceptionModel, images: torch.Tensor,
                   captions: list[str] | None = None) -> dict[str, dict[str, torch.Tensor]]:
    """Predict on Bx3xHxW images in [0, 1] of any size: resized to the backbone's size, outputs mapped back."""
    size = backbone.sample_size
    height, width = images.shape[-2:]
    small = images if (height, width) == (size, size) else F.interpolate(
        images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    features = backbone.extract_features(small * 2 - 1, captions=captions if backbone.takes_text else None)
    preds = model(features, (size, size))
    if (height, width) == (size, size):
        return preds
    out: dict[str, dict[str, torch.Tensor]] = {}
    for task, values in preds.items():
        out[task] = {key: resize_prediction(v, (height, width), task if key != "kappa" else "depth")
                     for key, v in values.items()}
    return out
