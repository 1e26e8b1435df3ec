"""Write predictions as label files (the layout's encodings) and as pictures people can look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..data.codecs import encode_depth, encode_normal, encode_probability, open_png
from ..data.images import image_files
from ..heads.pictures import depth_to_rgb, kappa_to_rgb, normal_to_rgb, probability_to_rgb, semseg_to_rgb
from ..perception.inference import available_device
from ..perception.output import Diff2in1Output
from ..perception.pipeline import Diff2in1Pipeline
from ..tasks import HUMAN_PART_CLASSES


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    tmp.replace(path)


def _write_one(out: Path, sample_id: str, pred: Diff2in1Output, num_classes: int | None) -> None:
    """One image's `Diff2in1Output` (numpy, no batch axis) -> label files and pictures."""
    pictures = out / "pictures"
    confidence = pred.confidence or {}
    if pred.normal is not None:
        _save(out / "normal" / f"{sample_id}.png", encode_normal(pred.normal))
        _save(pictures / f"{sample_id}_normal.png", normal_to_rgb(pred.normal.transpose(2, 0, 1)))
        if "normal" in confidence:
            _save(pictures / f"{sample_id}_kappa.png", kappa_to_rgb(confidence["normal"]))
    if pred.depth is not None:
        _save(out / "depth" / f"{sample_id}.png", encode_depth(pred.depth))
        _save(pictures / f"{sample_id}_depth.png", depth_to_rgb(pred.depth))
    if pred.semseg is not None:
        labels = pred.semseg.astype(np.uint8)
        _save(out / "semseg" / f"{sample_id}.png", labels)
        _save(pictures / f"{sample_id}_semseg.png", semseg_to_rgb(labels, num_classes))
    if pred.human_parts is not None:
        parts = pred.human_parts.astype(np.uint8)
        _save(out / "human_parts" / f"{sample_id}.png", parts)
        _save(pictures / f"{sample_id}_human_parts.png", semseg_to_rgb(parts, len(HUMAN_PART_CLASSES)))
    for task, prob in (("edge", pred.edge), ("saliency", pred.saliency)):
        if prob is not None:
            _save(out / task / f"{sample_id}.png", encode_probability(prob))
            _save(pictures / f"{sample_id}_{task}.png", probability_to_rgb(prob))


def write_predictions(config: Any) -> int:
    """Predict every image of ``config.input`` (PredictConfig) at its own size; returns the number of images."""
    pipe = Diff2in1Pipeline.from_pretrained(config.checkpoint, which=config.which, device=available_device())
    files = image_files(config.input, split="test")
    out = Path(config.out)
    num_classes = len(pipe.classes) or None
    # One image at a time: a folder may mix sizes, and each prediction is mapped back to its own size.
    for path in tqdm(files, desc="predict"):
        image = open_png(path)
        _write_one(out, path.stem, pipe(image, ensemble=getattr(config, "ensemble", 1)), num_classes)
    return len(files)
