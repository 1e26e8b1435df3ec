"""The rows of a data set as the feature cache and the self-improving stage read them: held in memory, or
read when needed.

``HeldSamples`` keeps a collated batch (fast; RAM grows with the data set). ``ReadSamples`` keeps only the
data set and reads the rows a step asks for (with ``--cache-storage disk``: RAM stays flat, and each
step reads a few files the page cache mostly holds). Both answer ``read(rows)`` with a collated batch
(``image`` float Nx3xHxW in [0, 1], labels and masks where the data set has them, ``id``, ``caption``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from ..perception.splits import collate

NOT_LABELS = ("image", "caption", "id")


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


class HeldSamples:
    """Every row in memory, as one collated batch."""

    def __init__(self, batch: dict[str, Any]):
        self.batch = batch

    def __len__(self) -> int:
        return len(self.batch["image"])

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.batch["image"].shape[-2:])

    def read(self, rows: torch.Tensor) -> dict[str, Any]:
        return take(self.batch, rows)

    def chunks(self, batch_size: int = 32) -> Iterator[dict[str, Any]]:
        for start in range(0, len(self), batch_size):
            yield self.read(torch.arange(start, min(start + batch_size, len(self))))


class ReadSamples:
    """Rows read from ``dataset`` on request; nothing of theirs is kept."""

    def __init__(self, dataset: Dataset, num_workers: int = 0):
        if not len(dataset):
            raise ValueError("no samples to read")
        self.dataset, self.num_workers = dataset, num_workers
        self._size = tuple(dataset[0]["image"].shape[-2:])

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def read(self, rows: torch.Tensor) -> dict[str, Any]:
        return collate([self.dataset[i] for i in rows.tolist()])

    def chunks(self, batch_size: int = 32) -> Iterator[dict[str, Any]]:
        yield from DataLoader(self.dataset, batch_size=batch_size, num_workers=self.num_workers, collate_fn=collate)


def require_samples(dataset: Dataset | None, asked: str, why: str, fix: str) -> None:
    """Refuse, before training starts, a data set that came out empty: what was asked, how many images
    were found and why, and what to pass instead."""
    if dataset is not None and not len(dataset):
        raise ValueError(f"{asked}: 0 images ({why}); {fix}")


def open_samples(dataset: Dataset, in_memory: bool, num_workers: int = 0) -> HeldSamples | ReadSamples:
    return HeldSamples(load_all(dataset)) if in_memory else ReadSamples(dataset, num_workers)


class ImagesOnly(Dataset):
    """Items of ``dataset`` without their labels: image, caption and id (samples θC labels)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.dataset[index]
        return {"image": item["image"], "caption": item.get("caption", ""), "id": str(item["id"])}


def dataset_ids(dataset: Dataset) -> list[str]:
    """Item ids, from the readers' ``ids`` list (through Subset and wrappers) without reading any file."""
    if isinstance(dataset, Subset):
        return [dataset_ids(dataset.dataset)[i] for i in dataset.indices]
    if isinstance(dataset, ImagesOnly) or not hasattr(dataset, "ids") and hasattr(dataset, "dataset"):
        return dataset_ids(dataset.dataset)
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        return [i for part in dataset.datasets for i in dataset_ids(part)]
    if hasattr(dataset, "ids"):
        return [str(i) for i in dataset.ids]
    return [str(dataset[i]["id"]) for i in range(len(dataset))]
