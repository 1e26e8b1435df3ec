"""Batches of (augmented) samples and their frozen-backbone features, sharded across processes.

Every step draws a global batch: positions ``step * size ...`` of an endless stream of shuffled epochs
(epoch e is a permutation seeded by seed + e). Under ``accelerate launch`` each process takes its rows
of that batch (``step.rows``), and every sample's augmentation and perception noise are seeded by its
position in the stream, so a sample looks the same on 1 or N processes and after a resume.

Cached sources serve features from a ``FeatureCache`` whose views are the image and its mirror (a flipped
sample): in RAM (the data set loaded into memory too) or on disk (files under the cache folder; samples
read per batch through a DataLoader with ``num_workers`` workers, so RAM does not grow with the data
set). Streamed sources read the same way and leave feature extraction to the caller, who can then run
one UNet pass over real and synthetic samples together.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ..backbones import DiffusionBackbone
from ..perception.splits import collate, features_of, to_device
from .augment import Augmentation, augment_batch, cacheable, step_generator
from .feature_cache import FeatureCache, FeatureEntries, ImageAndMirror
from .samples import HeldSamples, ReadSamples, concat_batches, load_all, take
from .step import rows

STORAGES = ("ram", "disk")


class StreamOrder:
    """Data-set index at each position of the endless stream of shuffled epochs."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed = size, seed
        self._epochs: dict[int, list[int]] = {}

    def __getitem__(self, position: int) -> int:
        epoch, offset = divmod(position, self.size)
        if epoch not in self._epochs:
            self._epochs = {e: p for e, p in self._epochs.items() if e >= epoch - 1}
            generator = torch.Generator().manual_seed(self.seed + epoch)
            self._epochs[epoch] = torch.randperm(self.size, generator=generator).tolist()
        return self._epochs[epoch][offset]


class _StepSampler:
    """The data-set indices of this process's rows, one list per step from ``start``."""

    def __init__(self, order: StreamOrder, size: int, start: int, process: tuple[int, int]):
        self.order, self.size, self.start, self.process = order, size, start, process

    def __iter__(self) -> Iterator[list[int]]:
        step, part = self.start, rows(self.size, *self.process)
        while True:
            yield [self.order[p] for p in range(step * self.size, (step + 1) * self.size)[part]]
            step += 1


class BatchSource:
    """Endless augmented batches of one data set; ``features(batch)`` gives their backbone features.

    ``next(size)``: this process's rows of the next global batch of ``size``; ``process``: (index,
    number of processes). ``storage``: where cached features live: ``ram`` (also written to and read from
    ``cache_dir`` when given) or ``disk`` (files under ``cache_dir`` only).
    """

    def __init__(self, backbone: DiffusionBackbone, dataset: Dataset, augmentation: Augmentation, seed: int,
                 cache: bool = True, cache_dir: str | Path | None = None, start_step: int = 0, *,
                 storage: str = "ram", num_workers: int = 0, process: tuple[int, int] = (0, 1), grad: bool = False):
        if storage not in STORAGES or (cache and storage == "disk" and not cache_dir):
            raise ValueError(f"BatchSource: storage must be one of {STORAGES} ('disk' needs a cache_dir), "
                             f"got {storage!r} with cache_dir {cache_dir!r}")
        self.backbone, self.augmentation, self.dataset, self.seed = backbone, augmentation, dataset, seed
        self.grad = grad  # streamed features carry gradients to a trained UNet
        self.calls, self.num_workers, self.process = start_step, num_workers, process
        self.order = StreamOrder(len(dataset), seed)
        self.cache: FeatureCache | None = None
        self.memory: dict[str, Any] | None = None
        self._loader: tuple[int, Iterator[dict[str, Any]]] | None = None
        if cache and not cacheable(augmentation):
            warnings.warn("feature cache skipped: random crops and colour jitter change the features; "
                          "only flips can be served from the cache", stacklevel=2)
            cache = False
        if cache:
            self.memory = load_all(dataset) if storage == "ram" else None
            samples = HeldSamples(self.memory) if self.memory is not None else ReadSamples(dataset, num_workers)
            entries = FeatureEntries(cache_dir, hold=storage == "ram")
            self.cache = FeatureCache(backbone, samples, ImageAndMirror(), entries, batch_size=16)

    def _rows(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(stream positions, data-set indices) of this process's rows of the current step."""
        positions = torch.arange(self.calls * size, (self.calls + 1) * size)[rows(size, *self.process)]
        return positions, torch.tensor([self.order[int(p)] for p in positions])

    def _read(self, size: int, indices: torch.Tensor) -> dict[str, Any]:
        if self.memory is not None:
            return take(self.memory, indices)
        if self._loader is None or self._loader[0] != size:
            sampler = _StepSampler(self.order, size, self.calls, self.process)
            loader = DataLoader(self.dataset, batch_sampler=sampler, num_workers=self.num_workers, collate_fn=collate,
                                persistent_workers=self.num_workers > 0)
            self._loader = (size, iter(loader))
        return next(self._loader[1])

    def next(self, size: int) -> dict[str, Any]:
        """This process's rows of the next ``size`` samples, augmented, on the backbone's device."""
        positions, indices = self._rows(size)
        batch = to_device(self._read(size, indices), self.backbone.device)
        batch["index"], batch["position"] = indices, positions
        self.calls += 1
        return self._augment(batch)

    def _augment(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Each sample augmented by the draws of its stream position (not of its batch or process)."""
        parts = [augment_batch(take(batch, torch.tensor([row])), self.augmentation,
                               step_generator(self.seed, int(position)))
                 for row, position in enumerate(batch["position"])]
        return concat_batches(parts)

    def features(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        if self.cache is not None:  # view 1, the mirror, where the sample was flipped
            flipped = batch.get("flipped")
            views = flipped.long() if flipped is not None else torch.zeros_like(batch["index"])
            return self.cache.get(batch["index"], views)
        generators = [step_generator(self.seed + 1, int(p)) for p in batch["position"]]
        return features_of(self.backbone, batch, generator=generators, grad=self.grad)
