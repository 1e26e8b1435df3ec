"""Write predictions as label files (the layout's encodings) and as pictures people can look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..data.codecs import encode_depth, encode_normal, open_png
from ..data.images import image_files
from ..heads.pictures import depth_to_rgb, kappa_to_rgb, normal_to_rgb, semseg_to_rgb
from ..perception.inference import open_checkpoint, predict_images


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    tmp.replace(path)


def _write_one(out: Path, sample_id: str, preds: dict[str, dict[str, torch.Tensor]], index: int, num_classes: int | None) -> None:
    pictures = out / "pictures"
    if "normal" in preds:
        normal = preds["normal"]["normal"][index].permute(1, 2, 0).cpu().numpy()
        _save(out / "normal" / f"{sample_id}.png", encode_normal(normal))
        _save(pictures / f"{sample_id}_normal.png", normal_to_rgb(preds["normal"]["normal"][index].cpu()))
        if "kappa" in preds["normal"]:
            _save(pictures / f"{sample_id}_kappa.png", kappa_to_rgb(preds["normal"]["kappa"][index, 0].cpu()))
    if "depth" in preds:
        depth = preds["depth"]["depth"][index, 0].cpu().numpy()
        _save(out / "depth" / f"{sample_id}.png", encode_depth(depth))
        _save(pictures / f"{sample_id}_depth.png", depth_to_rgb(depth))
    if "semseg" in preds:
        labels = preds["semseg"]["semseg"][index].cpu().numpy().astype(np.uint8)
        _save(out / "semseg" / f"{sample_id}.png", labels)
        _save(pictures / f"{sample_id}_semseg.png", semseg_to_rgb(labels, num_classes))


def write_predictions(config: Any) -> int:
    """Predict every image of ``config.input``; returns the number of images."""
    backbone, model, info = open_checkpoint(config.checkpoint, which=config.which)
    files = image_files(config.input, split="test")
    out = Path(config.out)
    num_classes = len(info["classes"]) if info.get("classes") else None
    # One image at a time: a folder may mix sizes, and each prediction is mapped back to its own size.
    for path in tqdm(files, desc="predict"):
        image = open_png(path)
        image = np.repeat(image[..., None], 3, -1) if image.ndim == 2 else image[..., :3]
        tensor = torch.from_numpy(image.copy()).permute(2, 0, 1).float().div(255)[None].to(backbone.device)
        _write_one(out, path.stem, predict_images(backbone, model, tensor), 0, num_classes)
    return len(files)
