"""The report's example rows: test images with the warm-up's and Diff-2-in-1's predictions, and created pairs."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import open_dataset
from ..data.dataset import LayoutDataset
from ..data.layout import list_ids
from ..fileio import read_json
from .runfolder import RunFolder

WARMUP, IMPROVED, TRUTH = "warm-up", "Diff-2-in-1", "ground truth"


@dataclass
class Examples:
    """Rows for a picture grid; ``note`` says why there are none (or what is missing)."""

    images: list[torch.Tensor] = field(default_factory=list)  # 3xHxW in [0, 1]
    labels: dict[str, list[dict[str, torch.Tensor] | None]] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    num_classes: int | None = None
    classes: list[str] = field(default_factory=list)
    note: str = ""


def spread(count: int, num: int) -> list[int]:
    """``num`` indices spread evenly over ``range(count)`` (all of them when count <= num)."""
    if count <= num:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, num)})


def _models(run: RunFolder):
    """The backbone, the warm-up head and θC (None without an improve checkpoint), loaded once."""
    from ..perception.checkpoint import load_perception
    from ..perception.inference import open_checkpoint

    backbone, warm, info = open_checkpoint(run.warmup_checkpoint, which="model")
    improved = None
    if run.has_improve():
        improved, improved_info = load_perception(run.improve_checkpoint, which="creation")
        if improved_info["backbone"]["fingerprint"] != info["backbone"]["fingerprint"]:
            warnings.warn(f"{run.improve_checkpoint}: trained on another backbone than the warm-up; "
                          "opening its own", stacklevel=2)
            improved_backbone, improved, _ = open_checkpoint(run.improve_checkpoint, which="creation")
            return backbone, warm, (improved_backbone, improved), info
        improved = improved.to(backbone.device).eval()
    return backbone, warm, (None if improved is None else (backbone, improved)), info


def _predict(backbone, model, item: dict[str, Any]) -> dict[str, torch.Tensor]:
    from ..perception.inference import predict_images

    preds = predict_images(backbone, model, item["image"][None].to(backbone.device), captions=[item["caption"]])
    return {task: value[0].cpu() for task, value in model.predictions_for_metrics(preds).items()}


def prediction_examples(run: RunFolder, data: Path | None, dataset: str, num: int, split: str = "test") -> Examples:
    """``num`` images of the real data set's ``split`` with ground truth, warm-up and θC predictions."""
    out = Examples()
    if not (run.warmup_checkpoint / "perception.json").is_file():
        out.note = f"No warm-up checkpoint yet ({run.warmup_checkpoint}), so there are no predictions to show."
        return out
    if data is None:
        out.note = "The real data set was not found; pass its folder (write_report(..., data=...))."
        return out
    tasks = run.tasks()
    try:
        real = open_dataset(dataset, data, split, tasks=tasks)
    except (FileNotFoundError, ValueError) as error:
        out.note = f"Could not open the {split} split of {data} ({error})."
        return out
    backbone, warm, improved, info = _models(run)
    out.num_classes = len(info.get("classes") or []) or None
    out.classes = list(info.get("classes") or [])
    out.labels = {TRUTH: [], WARMUP: []} | ({IMPROVED: []} if improved is not None else {})
    for index in spread(len(real), num):
        item = real[index]
        out.images.append(item["image"])
        out.ids.append(str(item["id"]))
        out.captions.append(item.get("caption", ""))
        out.labels[TRUTH].append({t: item[t] for t in tasks if t in item})
        out.labels[WARMUP].append(_predict(backbone, warm, item))
        if improved is not None:
            out.labels[IMPROVED].append(_predict(*improved, item))
    if improved is None:
        out.note = "No improve checkpoint yet: only the warm-up's predictions are shown."
    return out


def _source_images(run: RunFolder, ids: list[str], data: Path | None, dataset: str) -> list[torch.Tensor | None]:
    """The real images the created samples came from, read from the data set named in the provenance."""
    source = run.synthetic_meta.get("provenance", {}).get("source", {})
    split = source.get("split", "train")
    for root, name in ((source.get("data"), source.get("dataset")), (data, dataset)):
        if not root or not Path(root).exists():
            continue
        try:
            real = open_dataset(name or dataset, root, split, tasks=[])
        except (FileNotFoundError, ValueError):
            try:  # readers that insist on tasks: read them, only the image is used
                real = open_dataset(name or dataset, root, split)
            except (FileNotFoundError, ValueError):
                continue
        where = {sample_id: i for i, sample_id in enumerate(real.ids)}
        return [real[where[i]]["image"] if i in where else None for i in ids]
    return [None] * len(ids)


def _source_id(run: RunFolder, sample_id: str) -> str:
    path = run.synthetic / "train" / "provenance" / f"{sample_id}.json"
    try:
        return str(read_json(path)["source_id"])
    except (FileNotFoundError, ValueError, KeyError):
        return sample_id.rsplit("_c", 1)[0]


def created_examples(run: RunFolder, data: Path | None, dataset: str, num: int) -> Examples:
    """``num`` created samples (image, labels, kappa) and their real source images."""
    out = Examples()
    if not run.synthetic_meta:
        out.note = (f"No created data set ({run.synthetic / 'meta.json'} is missing): the improve stage ran on "
                    "real data only, or creation has not run yet.")
        return out
    try:
        created = LayoutDataset(run.synthetic, "train")
        count = len(list_ids(run.synthetic, "train"))
    except (FileNotFoundError, ValueError) as error:
        out.note = f"Could not read the created data set ({error})."
        return out
    if not count:
        out.note = f"The created data set {run.synthetic} holds no samples yet."
        return out
    out.num_classes, out.classes = created.num_classes, list(created.meta["classes"])
    items = [created[i] for i in spread(count, num)]
    out.ids = [item["id"] for item in items]
    out.captions = [item["caption"] for item in items]
    sources = _source_images(run, [_source_id(run, i) for i in out.ids], data, dataset)
    out.images = sources  # type: ignore[assignment]  # None where the source was not found
    out.labels = {"created": items}  # type: ignore[dict-item]
    if any(s is None for s in sources):
        out.note = "Some source images were not found (the real data set moved?); their cells are grey."
    return out
