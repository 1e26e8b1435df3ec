"""The samples of the self-improving stage: real labelled images, created ones, real unlabelled ones.

Each pool is a data set's rows (``samples.py``: in memory, or read when a step needs them) with the
features of their views (the engine's ``FeatureCache`` with the ``ViewBank``'s views). Batches are drawn
in a per-epoch random order seeded by (seed, epoch), and each sample's view by (seed, step): a resumed
run draws what an uninterrupted one drew.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import ConcatDataset, Dataset, Subset

from ..backbones import DiffusionBackbone
from ..perception.splits import open_split, to_device
from ..training.augment import step_generator
from ..training.feature_cache import FeatureCache, FeatureEntries
from ..training.samples import NOT_LABELS, HeldSamples, ImagesOnly, ReadSamples, dataset_ids, require_samples
from ..training.sources import StreamOrder
from .views import ViewBank, ViewParams, view_params


class Pool:
    """One kind of sample; ``draw(size, step)`` gives the rows of a step and the view each is seen in."""

    def __init__(self, name: str, store: FeatureCache, seed: int, student_views: list[int]):
        if not len(store.samples):
            raise ValueError(f"the {name} pool is empty")
        self.name, self.store, self.samples, self.seed = name, store, store.samples, seed
        self.student_views = student_views
        self._order = StreamOrder(len(self.samples), seed * 7919)  # a stream apart from the real batches'

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def size(self) -> tuple[int, int]:
        return self.samples.size

    def _rows(self, size: int, step: int) -> torch.Tensor:
        return torch.tensor([self._order[p] for p in range(step * size, (step + 1) * size)])

    def draw(self, size: int, step: int, part: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor, ViewParams]:
        """(rows, student views, their ViewParams) of this step's ``size`` samples; ``part``: this process's."""
        rows = self._rows(size, step)
        choice = torch.randint(0, len(self.student_views), (size,), generator=step_generator(self.seed + 5, step))
        rows, views = rows[part], torch.tensor(self.student_views)[choice][part]
        return rows, views, view_params(self.store.views, self.store.keys, rows, views)

    def labels(self, rows: torch.Tensor, device: torch.device) -> dict[str, Any]:
        return to_device({k: v for k, v in self.samples.read(rows).items() if k not in NOT_LABELS}, device)


def student_views(num_views: int) -> list[int]:
    """The views the student draws from: every view of the bank."""
    return list(range(num_views))


def make_store(backbone: DiffusionBackbone, samples: HeldSamples | ReadSamples, bank: ViewBank, config: Any,
               entries: FeatureEntries | None = None) -> FeatureCache:
    """The features of ``samples``' views, kept in ``entries`` (default: in RAM, and under --cache-dir)."""
    entries = entries or FeatureEntries(config.cache_dir, hold=config.cache_storage == "ram")
    return FeatureCache(backbone, samples, bank, entries, store=config.cache_features,
                        batch_size=config.unet_batch_size)


def created_dataset(config: Any, tasks: list[str], size: int, labelled_ids: set[str],
                    pool_ids: set[str]) -> Dataset | None:
    """The created samples of ``config.synthetic`` whose source is allowed by ``config.synthetic_from``."""
    if not config.synthetic:
        return None
    created = open_split("folder", config.synthetic, "train", tasks, size)
    require_samples(created, f"--synthetic {config.synthetic}", "its train split holds no created sample",
                    "create samples there first (diff2in1 create) or pass --synthetic ''")
    allowed = {"any": None, "labelled": labelled_ids, "unlabelled": pool_ids}[config.synthetic_from]
    if allowed is None:
        return created
    ids = dataset_ids(created)
    rows = [i for i, sample in enumerate(ids) if sample.rsplit("_c", 1)[0] in allowed]
    if not rows:
        raise ValueError(f"{config.synthetic}: no created sample comes from a {config.synthetic_from} source "
                         f"(ids look like {ids[:2]}); create from those images first")
    return Subset(created, rows)


def unlabelled_dataset(config: Any, full: Any, excluded: dict[str, set[int]], size: int) -> Dataset | None:
    """Real images without labels: the training split outside the ``excluded`` rows ({why: rows}), or a
    folder of images.

    A folder in the project layout gives its train split; with ``unlabelled_labels='ground_truth'`` (the
    oracle) it is read with the --dataset reader and keeps its labels.
    """
    if not config.unlabelled:
        return None
    limit = config.unlabelled_limit or None
    truth = config.unlabelled_labels == "ground_truth"
    if config.unlabelled == "split":
        held = set().union(*excluded.values())
        dataset = Subset(full, [i for i in range(len(full)) if i not in held][:limit])
        why = ", ".join(f"{len(rows)} {name}" for name, rows in excluded.items())
        require_samples(dataset, "--unlabelled split", f"all {len(full)} training images are held: {why}",
                        "pass a folder of unlabelled images (--unlabelled DIR) or a smaller --num-labelled")
        return dataset if truth else ImagesOnly(dataset)
    if truth:
        dataset = open_split(config.dataset, config.unlabelled, "train", full.tasks, size)
        dataset = Subset(dataset, range(min(len(dataset), limit or len(dataset))))
    else:
        dataset = open_split("folder", config.unlabelled, "train", None, size)  # labels, if any, dropped below
        dataset = Subset(dataset, range(min(len(dataset), limit or len(dataset))))
    require_samples(dataset, f"--unlabelled {config.unlabelled}", "the folder holds no image",
                    "pass a folder of images (or one in the project layout) or --unlabelled split")
    return dataset if truth else ImagesOnly(dataset)


def concat_unlabelled(parts: list[Dataset | None]) -> Dataset | None:
    """Created and unlabelled samples as one pool (images, captions, ids; labels dropped)."""
    parts = [ImagesOnly(p) if not isinstance(p, ImagesOnly) else p for p in parts if p is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)
