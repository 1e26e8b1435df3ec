"""Metrics of a perception model on a data set (streaming, every task), on one process or many."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..backbones import DiffusionBackbone
from ..heads import PerceptionModel
from ..metrics import compute_all, make_accumulators, update_from_batch
from .splits import collate, features_of, to_device


class _Numbered(Dataset):
    """Items with their position in the data set, which seeds their perception noise."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**self.dataset[index], "number": index}


def _ground_truth(batch: dict[str, Any], tasks: list[str]) -> dict[str, Any]:
    """Labels and masks of ``batch`` in sorted task order.

    A gather sends a dict's tensors in its key order, and every process must send the same sequence:
    Python seeds string hashing per process, so an order taken from a set differs between processes.
    """
    masks = batch.get("mask", {})
    return {**{t: batch[t] for t in sorted(tasks) if t in batch}, "mask": {t: masks[t] for t in sorted(masks)}}


@torch.no_grad()
def evaluate_model(backbone: DiffusionBackbone, models: dict[str, PerceptionModel], dataset: Dataset,
                   batch_size: int = 16, progress: bool = True, use_captions: bool = True,
                   accelerator=None) -> dict[str, dict[str, Any]]:
    """{name: {task: {metric: value}}} for each model; the UNet runs once per batch for all of them.

    With an ``accelerator`` of several processes, each evaluates its share of the batches and the
    predictions are gathered (``gather_for_metrics``, which drops the samples repeated to even out the
    last batches), so every process returns the metrics of the whole set. Call it on every process.
    """
    device = backbone.device
    accumulators = {name: make_accumulators(m.tasks, getattr(dataset, "num_classes", None)) for name, m in models.items()}
    tasks = sorted({t for m in models.values() for t in m.tasks})
    for model in models.values():
        model.eval()
    loader = DataLoader(_Numbered(dataset), batch_size=batch_size, shuffle=False, collate_fn=collate)
    many = accelerator is not None and accelerator.num_processes > 1
    if many:
        loader = accelerator.prepare_data_loader(loader, device_placement=False)
    hidden = not progress or (accelerator is not None and not accelerator.is_main_process)
    for batch in tqdm(loader, desc="evaluate", leave=False, disable=hidden):
        batch = to_device(batch, device)
        # Noise seeded per sample: the same checkpoint gets the same score, however the set is split.
        generators = [torch.Generator().manual_seed(int(n)) for n in batch["number"]]
        features = features_of(backbone, batch, use_captions, generators)
        truth = _ground_truth(batch, tasks)
        for name, model in models.items():
            preds = model.predictions_for_metrics(model(features, tuple(batch["image"].shape[-2:])))
            gathered, gathered_truth = (accelerator.gather_for_metrics((preds, truth)) if many else (preds, truth))
            update_from_batch(accumulators[name], gathered, gathered_truth)
    return {name: compute_all(acc) for name, acc in accumulators.items()}
