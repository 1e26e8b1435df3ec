"""Batches of (augmented) samples and their frozen-backbone features, from memory or streamed from disk.

Cached sources hold the whole labelled set in memory with its features (and its mirror's) computed once;
streamed sources read through a DataLoader and leave feature extraction to the caller, who can then run
one UNet pass over real and synthetic samples together.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ..backbones import DiffusionBackbone
from ..perception.splits import collate, endless_batches, features_of, to_device
from .augment import Augmentation, augment_batch, cacheable, step_generator
from .feature_cache import FeatureCache


def load_all(dataset: Dataset, batch_size: int = 64) -> dict[str, Any]:
    """Every item of ``dataset`` collated into one batch (for sets that fit in memory)."""
    parts = list(DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate))
    return concat_batches(parts)


def concat_batches(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parts[0].items():
        if torch.is_tensor(value):
            out[key] = torch.cat([p[key] for p in parts])
        elif isinstance(value, dict):
            out[key] = {k: torch.cat([p[key][k] for p in parts]) for k in value}
        else:
            out[key] = [x for p in parts for x in p[key]]
    return out


def take(batch: dict[str, Any], indices: torch.Tensor) -> dict[str, Any]:
    """Rows ``indices`` of a collated batch (tensors, nested mask dict, lists of ids and captions)."""
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if torch.is_tensor(value):
            out[key] = value[indices.to(value.device)]
        elif isinstance(value, dict):
            out[key] = {k: v[indices.to(v.device)] for k, v in value.items()}
        else:
            out[key] = [value[i] for i in indices.tolist()]
    return out


class BatchSource:
    """Endless augmented batches of one data set; ``features(batch)`` gives their backbone features."""

    def __init__(self, backbone: DiffusionBackbone, dataset: Dataset, augmentation: Augmentation, seed: int,
                 cache: bool = True, cache_dir: str | None = None, progress: bool = True, start_step: int = 0):
        self.backbone, self.augmentation = backbone, augmentation
        self.calls = start_step  # augmentation draws are seeded per call, so a resumed run repeats them
        self.cache: FeatureCache | None = None
        if cache and not cacheable(augmentation):
            warnings.warn("feature cache skipped: random crops and colour jitter change the features; "
                          "only flips can be served from the cache", stacklevel=2)
            cache = False
        if cache:
            self.memory = load_all(dataset)
            self.memory["index"] = torch.arange(len(self.memory["image"]))
            self.cache = FeatureCache(backbone, cache_dir, with_flip=augmentation.flip)
            self.cache.build(self.memory["image"], self.memory.get("caption") if backbone.takes_text else None,
                             progress=progress)
            self._order = self._orders(seed)
            self._skip = start_step  # a resumed run continues the uninterrupted run's order
        self.dataset, self.seed, self.start_step = dataset, seed, start_step
        self._streams: dict[int, Iterator[dict[str, Any]]] = {}

    def _orders(self, seed: int) -> Iterator[int]:
        epoch = 0
        while True:
            yield from torch.randperm(len(self.memory["image"]), generator=torch.Generator().manual_seed(seed + epoch)).tolist()
            epoch += 1

    def next(self, size: int) -> dict[str, Any]:
        """The next ``size`` samples, augmented, on the backbone's device."""
        if self.cache is not None:
            for _ in range(self._skip * size):
                next(self._order)
            self._skip = 0
            indices = torch.tensor([next(self._order) for _ in range(size)])
            batch = to_device(take(self.memory, indices), self.backbone.device)
        else:
            if size not in self._streams:
                self._streams[size] = endless_batches(self.dataset, size, self.seed, self.start_step)
            batch = to_device(next(self._streams[size]), self.backbone.device)
        self.calls += 1
        return augment_batch(batch, self.augmentation, step_generator(self.seed, self.calls - 1))

    def features(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        if self.cache is not None:
            return self.cache.get(batch["index"], batch.get("flipped"))
        return features_of(self.backbone, batch)
