"""Metrics of heads on a data set from cached view features, with and without flip test-time averaging.

The clean view and the mirror of each evaluation image are features like any other view, so several heads
(θE, θC, each with and without flip averaging) are scored on one UNet pass per image and view.
"""

from __future__ import annotations

import torch

from ..heads import PerceptionModel
from ..metrics import compute_all, make_accumulators, update_from_batch
from ..perception.splits import to_device
from .view_features import ViewFeatures
from .views import CLEAN, MIRROR


@torch.no_grad()
def evaluate_views(models: dict[str, PerceptionModel], store: ViewFeatures, num_classes: int | None,
                   flip: bool = True, batch_size: int = 32) -> dict[str, dict]:
    """{name: {task: {metric: value}}}, plus {name}_tta with flip averaging when ``flip``.

    The ground truth is read from ``store.samples`` (the evaluation set), a batch at a time.
    """
    names = list(models) + ([f"{n}_tta" for n in models] if flip else [])
    accumulators = {n: make_accumulators(models[n.removesuffix("_tta")].tasks, num_classes) for n in names}
    for model in models.values():
        model.eval()
    samples = store.samples
    for start in range(0, len(samples), batch_size):
        rows = torch.arange(start, min(start + batch_size, len(samples)))
        truth = to_device(samples.read(rows), store.backbone.device)
        clean = store.get(rows, torch.full_like(rows, CLEAN))
        mirror = store.get(rows, torch.full_like(rows, MIRROR)) if flip else None
        for name, model in models.items():
            preds = model(clean, samples.size)
            update_from_batch(accumulators[name], model.predictions_for_metrics(preds), truth)
            if mirror is not None:
                both = model.average_with_mirror(preds, model(mirror, samples.size))
                update_from_batch(accumulators[f"{name}_tta"], model.predictions_for_metrics(both), truth)
    return {name: compute_all(acc) for name, acc in accumulators.items()}
