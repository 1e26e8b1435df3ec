"""Writing created samples into the project layout, one sample at a time and never half-visible.

A sample's files are first written to ``OUT/.staging/`` and then renamed into ``OUT/train/``: the labels,
caption, confidence and provenance first, the image last. Readers list samples by their image, so an
interrupted run never exposes an image without its labels, and "image exists" means "sample complete".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.layout import sample_path, write_sample
from ..fileio import write_json
from ..tasks import BINARY_TASKS, CLASS_TASKS, DEPTH, EDGE, HUMAN_PARTS, NORMAL, SALIENCY, SEMSEG, TASKS

SPLIT = "train"
STAGING = ".staging"
PROVENANCE = "provenance"
# Rename order: the image last, so that its presence marks a complete sample.
LABEL_MODALITIES = (*TASKS, "kappa", "caption")


def created_id(source_id: str, k: int) -> str:
    """Id of the k-th image created from source sample ``source_id``: ``<source_id>_c<k>``."""
    return f"{source_id}_c{k}"


def provenance_path(root: str | Path, sample_id: str) -> Path:
    """``OUT/train/provenance/<id>.json``: where a created sample came from (source id, seed, t*)."""
    return Path(root) / SPLIT / PROVENANCE / f"{sample_id}.json"


def is_complete(root: str | Path, sample_id: str) -> bool:
    """Whether a created sample was fully written (its image is renamed into place last)."""
    return sample_path(root, SPLIT, "image", sample_id).is_file() and provenance_path(root, sample_id).is_file()


def sample_arrays(
    image01: torch.Tensor, labels: dict[str, torch.Tensor], kappa: torch.Tensor | None
) -> dict[str, np.ndarray]:
    """One created sample as the arrays `write_sample` takes.

    Args:
        image01: 3xHxW in [0, 1].
        labels: per task as ``PerceptionModel.labels_from_preds`` gives them for one sample: normal 3xHxW unit,
            depth 1xHxW metres, semseg and human_parts HxW int64, edge and saliency 1xHxW probability.
        kappa: HxW normal concentration, or None.

    Returns:
        {"image": HxWx3 uint8, "normal": HxWx3 float, "depth": HxW metres, "semseg" / "human_parts": HxW uint8,
        "edge" / "saliency": HxW probability, "kappa": HxW} for the modalities given.
    """
    out = {"image": (image01.clamp(0, 1).permute(1, 2, 0) * 255).round().byte().cpu().numpy()}
    if NORMAL in labels:
        out[NORMAL] = labels[NORMAL].float().permute(1, 2, 0).cpu().numpy()
    if DEPTH in labels:
        out[DEPTH] = labels[DEPTH].float()[0].cpu().numpy()
    for task in CLASS_TASKS:
        if task in labels:
            out[task] = labels[task].clamp(0, 255).to(torch.uint8).cpu().numpy()
    for task in BINARY_TASKS:
        if task in labels:
            out[task] = labels[task].float()[0].cpu().numpy()
    if kappa is not None:
        out["kappa"] = kappa.float().cpu().numpy()
    return out


def write_created(
    root: str | Path, sample_id: str, arrays: dict[str, np.ndarray], caption: str | None, provenance: dict[str, Any]
) -> None:
    """Write one created sample to ``root/train`` (see the module docstring for the order)."""
    root = Path(root)
    staging = root / STAGING
    write_sample(
        staging, SPLIT, sample_id, arrays["image"], depth=arrays.get(DEPTH), normal=arrays.get(NORMAL),
        semseg=arrays.get(SEMSEG), caption=caption or None, kappa=arrays.get("kappa"), edge=arrays.get(EDGE),
        saliency=arrays.get(SALIENCY), human_parts=arrays.get(HUMAN_PARTS),
    )
    write_json(provenance_path(staging, sample_id), provenance)
    moves = [(sample_path(staging, SPLIT, m, sample_id), sample_path(root, SPLIT, m, sample_id))
             for m in LABEL_MODALITIES]
    moves.append((provenance_path(staging, sample_id), provenance_path(root, sample_id)))
    moves.append((sample_path(staging, SPLIT, "image", sample_id), sample_path(root, SPLIT, "image", sample_id)))
    for source, target in moves:
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            source.replace(target)
