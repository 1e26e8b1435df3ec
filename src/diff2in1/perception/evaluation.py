"""Metrics of perception models on a data set: the one evaluation every command and bench calls.

An image's score never depends on where it is evaluated. The perception pass's noise is seeded by the
image's identity and view (``identity.py``), not by its place in a batch, a split or a process; the
features the heads read are rounded to fp16, the precision the feature caches store, so scores from
freshly computed features and from cached ones agree. With ``flip`` each model is also scored on the
average of its predictions on the image and its mirror (``{name}_tta``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..backbones import DiffusionBackbone
from ..heads import PerceptionModel
from ..metrics import compute_all, make_accumulators, update_from_batch
from .identity import CLEAN, MIRROR, image_key, noise_seed
from .splits import collate, to_device

# (batch, rows of the data set, view) -> features, one tensor per level (float32, BxCxhxw)
FeatureSource = Callable[[dict[str, Any], torch.Tensor, int], list[torch.Tensor]]


class _Numbered(Dataset):
    """Items with their row in the data set (what a cache of its features is indexed by)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**self.dataset[index], "row": index}


def fresh_features(backbone: DiffusionBackbone, use_captions: bool = True) -> FeatureSource:
    """Features computed from the batch: noise seeded by (image key, view), rounded to fp16 as caches keep them."""
    fingerprint, timestep = backbone.fingerprint(), backbone.perception_timestep

    def compute(batch: dict[str, Any], rows: torch.Tensor, view: int) -> list[torch.Tensor]:
        images = batch["image"]
        captions = list(batch["caption"]) if use_captions and backbone.takes_text and "caption" in batch else None
        keys = [image_key(image, fingerprint, timestep, text)
                for image, text in zip(images, captions or [""] * len(images))]
        generators = [torch.Generator().manual_seed(noise_seed(key, view)) for key in keys]
        seen = images.flip(-1) if view == MIRROR else images
        features = backbone.extract_features(seen * 2 - 1, captions=captions, generator=generators)
        return [level.to(torch.float16).float() for level in features]

    return compute


def _ground_truth(batch: dict[str, Any], tasks: list[str]) -> dict[str, Any]:
    """Labels and masks of ``batch`` in sorted task order.

    A gather sends a dict's tensors in its key order, and every process must send the same sequence:
    Python seeds string hashing per process, so an order taken from a set differs between processes.
    """
    masks = batch.get("mask", {})
    return {**{t: batch[t] for t in sorted(tasks) if t in batch}, "mask": {t: masks[t] for t in sorted(masks)}}


def _scored(models: dict[str, PerceptionModel], features: FeatureSource, batch: dict[str, Any], flip: bool,
            size: tuple[int, int]) -> dict[str, dict[str, torch.Tensor]]:
    """{name (and name_tta with ``flip``): predictions for metrics} of one batch."""
    clean = features(batch, batch["row"], CLEAN)
    mirror = features(batch, batch["row"], MIRROR) if flip else None
    scored = {}
    for name, model in models.items():
        preds = model(clean, size)
        scored[name] = model.predictions_for_metrics(preds)
        if mirror is not None:
            both = model.average_with_mirror(preds, model(mirror, size))
            scored[f"{name}_tta"] = model.predictions_for_metrics(both)
    return scored


@torch.no_grad()
def evaluate(backbone: DiffusionBackbone, models: dict[str, PerceptionModel], dataset: Dataset, flip: bool = False,
             batch_size: int = 16, accelerator=None, features: FeatureSource | None = None, progress: bool = True,
             use_captions: bool = True) -> dict[str, dict[str, Any]]:
    """{name: {task: {metric: value}}} for each model, plus {name}_tta with flip averaging when ``flip``.

    ``features``: where the heads' features come from (a cache of ``dataset``'s rows and views); by
    default computed from each batch (``fresh_features``). With an ``accelerator`` of several processes,
    each scores its share of the batches and the predictions are gathered (``gather_for_metrics`` drops
    the samples repeated to even out the last batches), so every process returns the metrics of the
    whole set. Call it on every process.
    """
    features = features or fresh_features(backbone, use_captions)
    names = sorted(list(models) + ([f"{n}_tta" for n in models] if flip else []))
    accumulators = {n: make_accumulators(models[n.removesuffix("_tta")].tasks, getattr(dataset, "num_classes", None))
                    for n in names}
    tasks = sorted({t for m in models.values() for t in m.tasks})
    for model in models.values():
        model.eval()
    loader = DataLoader(_Numbered(dataset), batch_size=batch_size, shuffle=False, collate_fn=collate)
    many = accelerator is not None and accelerator.num_processes > 1
    if many:
        loader = accelerator.prepare_data_loader(loader, device_placement=False)
    hidden = not progress or (accelerator is not None and not accelerator.is_main_process)
    for batch in tqdm(loader, desc="evaluate", leave=False, disable=hidden):
        batch = {**to_device(batch, backbone.device), "row": batch["row"].cpu()}
        truth = _ground_truth(batch, tasks)
        for name, labels in sorted(_scored(models, features, batch, flip, tuple(batch["image"].shape[-2:])).items()):
            gathered = accelerator.gather_for_metrics((labels, truth)) if many else (labels, truth)
            update_from_batch(accumulators[name], *gathered)
    return {name: compute_all(acc) for name, acc in accumulators.items()}


def evaluate_each_on_its_weights(score: Callable[[dict[str, PerceptionModel]], dict[str, dict]],
                                 models: dict[str, PerceptionModel],
                                 weights_of: Callable[[str], AbstractContextManager] | None) -> dict[str, dict]:
    """``score(models)``, or, when the backbone trained (``weights_of`` given), ``score({name: model})`` for
    each model inside ``weights_of(name)``: each head was trained on its own UNet weights, so one UNet
    pass cannot serve them all."""
    if weights_of is None:
        return score(models)
    metrics: dict[str, dict] = {}
    for name, model in models.items():
        with weights_of(name):
            metrics.update(score({name: model}))
    return metrics
