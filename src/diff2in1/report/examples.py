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
from ..perception.checkpoint import read_perception_info
from ..perception.inference import available_device
from ..perception.pipeline import THETA_C, THETA_E, Diff2in1Pipeline
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


def _models(run: RunFolder) -> tuple[Diff2in1Pipeline, Diff2in1Pipeline | None]:
    """The warm-up's θE and the improve stage's θC (None without an improve checkpoint), one backbone if shared."""
    warm = Diff2in1Pipeline.from_pretrained(run.warmup_checkpoint, which=THETA_E, device=available_device())
    if not run.has_improve():
        return warm, None
    if read_perception_info(run.improve_checkpoint)["backbone"]["fingerprint"] == warm.info["backbone"]["fingerprint"]:
        return warm, Diff2in1Pipeline.from_pretrained(run.improve_checkpoint, backbone=warm.backbone, which=THETA_C)
    warnings.warn(f"{run.improve_checkpoint}: trained on another backbone than the warm-up; opening its own",
                  stacklevel=2)
    return warm, Diff2in1Pipeline.from_pretrained(run.improve_checkpoint, which=THETA_C, device=available_device())


def _predict(pipe: Diff2in1Pipeline, item: dict[str, Any]) -> dict[str, torch.Tensor]:
    """{task: the label in the ground-truth layout, without the batch axis} for one data-set item."""
    out = pipe(item["image"], captions=[item.get("caption", "")], output_type="pt")
    return {task: getattr(out, task)[0].cpu() for task in pipe.tasks}


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
    warm, improved = _models(run)
    out.num_classes = len(warm.classes) or None
    out.classes = warm.classes
    out.labels = {TRUTH: [], WARMUP: []} | ({IMPROVED: []} if improved is not None else {})
    for index in spread(len(real), num):
        item = real[index]
        out.images.append(item["image"])
        out.ids.append(str(item["id"]))
        out.captions.append(item.get("caption", ""))
        out.labels[TRUTH].append({t: item[t] for t in tasks if t in item})
        out.labels[WARMUP].append(_predict(warm, item))
        if improved is not None:
            out.labels[IMPROVED].append(_predict(improved, item))
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
