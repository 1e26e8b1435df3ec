"""Metrics of heads on a data set from cached view features, with and without flip test-time averaging.

The clean view and the mirror of each evaluation image are features like any other view, so several heads
(θE, θC, each with and without flip averaging) are scored on one UNet pass per image and view.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader

from ..heads import PerceptionModel
from ..metrics import compute_all, make_accumulators, update_from_batch
from ..perception.splits import to_device
from .view_features import ViewFeatures
from .views import CLEAN, MIRROR


@torch.no_grad()
def evaluate_views(models: dict[str, PerceptionModel], store: ViewFeatures, num_classes: int | None,
                   flip: bool = True, batch_size: int = 32, accelerator=None) -> dict[str, dict]:
    """{name: {task: {metric: value}}}, plus {name}_tta with flip averaging when ``flip``.

    The ground truth is read from ``store.samples`` (the evaluation set), a batch at a time. With an
    ``accelerator`` of several processes each scores its share of the batches and the predictions are
    gathered (``gather_for_metrics`` drops the rows repeated to even out the last batches), so every
    process returns the metrics of the whole set. Call it on every process.
    """
    names = list(models) + ([f"{n}_tta" for n in models] if flip else [])
    accumulators = {n: make_accumulators(models[n.removesuffix("_tta")].tasks, num_classes) for n in names}
    for model in models.values():
        model.eval()
    samples = store.samples
    many = accelerator is not None and accelerator.num_processes > 1
    loader = DataLoader(torch.arange(len(samples)), batch_size=batch_size, shuffle=False)
    if many:
        loader = accelerator.prepare_data_loader(loader, device_placement=False)
    for rows in loader:
        rows = rows.cpu()  # a prepared loader may have moved them
        truth = _ground_truth(to_device(samples.read(rows), store.backbone.device))
        clean = store.get(rows, torch.full_like(rows, CLEAN))
        mirror = store.get(rows, torch.full_like(rows, MIRROR)) if flip else None
        for name, model in models.items():
            preds = model(clean, samples.size)
            scored = {name: model.predictions_for_metrics(preds)}
            if mirror is not None:
                both = model.average_with_mirror(preds, model(mirror, samples.size))
                scored[f"{name}_tta"] = model.predictions_for_metrics(both)
            for key, labels in scored.items():
                gathered = accelerator.gather_for_metrics((labels, truth)) if many else (labels, truth)
                update_from_batch(accumulators[key], *gathered)
    return {name: compute_all(acc) for name, acc in accumulators.items()}


def _ground_truth(batch: dict[str, Any]) -> dict[str, Any]:
    """What metrics read of a batch: labels and their masks (not the images, ids or captions), in sorted key
    order, which a gather needs alike on every process."""
    masks = batch.get("mask", {})
    labels = {k: batch[k] for k in sorted(batch) if k not in ("image", "caption", "id", "mask")}
    return {**labels, **({"mask": {t: masks[t] for t in sorted(masks)}} if "mask" in batch else {})}
