"""Metrics of a perception model on a data set (streaming, every task)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..backbones import DiffusionBackbone
from ..heads import PerceptionModel
from ..metrics import compute_all, make_accumulators, update_from_batch
from .splits import collate, features_of, to_device


@torch.no_grad()
def evaluate_model(backbone: DiffusionBackbone, models: dict[str, PerceptionModel], dataset: Dataset,
                   batch_size: int = 16, progress: bool = True, use_captions: bool = True) -> dict[str, dict[str, Any]]:
    """{name: {task: {metric: value}}} for each model; the UNet runs once per batch for all of them."""
    device = backbone.device
    accumulators = {name: make_accumulators(m.tasks, getattr(dataset, "num_classes", None)) for name, m in models.items()}
    for model in models.values():
        model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    for batch in tqdm(loader, desc="evaluate", leave=False, disable=not progress):
        batch = to_device(batch, device)
        # Seeded perception noise: the same checkpoint always gets the same score.
        generator = torch.Generator(device).manual_seed(len(batch["image"]))
        features = features_of(backbone, batch, use_captions, generator)
        for name, model in models.items():
            preds = model(features, tuple(batch["image"].shape[-2:]))
            update_from_batch(accumulators[name], model.predictions_for_metrics(preds), batch)
    return {name: compute_all(acc) for name, acc in accumulators.items()}
