"""The samples of the self-improving stage: real labelled images, created ones, real unlabelled ones.

Each pool holds its images in memory (Nx3xHxW in [0, 1]) with their ids and captions, optional labels,
and the features of their views (``ViewFeatures``). Batches are drawn in a per-epoch random order seeded
by (seed, epoch), and each sample's view by (seed, step): a resumed run draws what an uninterrupted one drew.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Subset

from ..backbones import DiffusionBackbone
from ..data.images import image_files, load_images
from ..perception.splits import open_split, to_device
from .augment import step_generator
from .sources import load_all, take
from .view_features import ViewFeatures
from .views import ViewBank, ViewParams, apply_view


class Pool:
    """One kind of sample; ``draw(size, step)`` gives its rows, views and view-frame images for a step."""

    def __init__(self, name: str, batch: dict[str, Any], store: ViewFeatures, seed: int, student_views: list[int]):
        if not len(batch["image"]):
            raise ValueError(f"the {name} pool is empty")
        self.name, self.batch, self.store, self.seed = name, batch, store, seed
        self.student_views = student_views
        self._epoch, self._order = -1, torch.empty(0, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.batch["image"])

    def _rows(self, size: int, step: int) -> torch.Tensor:
        positions = range(step * size, (step + 1) * size)
        rows = []
        for position in positions:
            epoch, offset = divmod(position, len(self))
            if epoch != self._epoch:
                generator = torch.Generator().manual_seed(self.seed * 7919 + epoch)
                self._epoch, self._order = epoch, torch.randperm(len(self), generator=generator)
            rows.append(int(self._order[offset]))
        return torch.tensor(rows)

    def draw(self, size: int, step: int, part: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor, ViewParams]:
        """(rows, student views, their ViewParams) of this step's ``size`` samples; ``part``: this process's."""
        rows = self._rows(size, step)
        choice = torch.randint(0, len(self.student_views), (size,), generator=step_generator(self.seed + 5, step))
        rows, views = rows[part], torch.tensor(self.student_views)[choice][part]
        return rows, views, self.store.params(rows, views)

    def images(self, rows: torch.Tensor, params: ViewParams, device: torch.device) -> torch.Tensor:
        return apply_view(self.batch["image"][rows].to(device), params)

    def labels(self, rows: torch.Tensor, device: torch.device) -> dict[str, Any]:
        return to_device(take({k: v for k, v in self.batch.items() if k not in ("image", "caption", "id")}, rows),
                         device)


def student_views(num_views: int) -> list[int]:
    """The views the student draws from: every view of the bank."""
    return list(range(num_views))


def make_store(backbone: DiffusionBackbone, batch: dict[str, Any], bank: ViewBank, config: Any) -> ViewFeatures:
    return ViewFeatures(backbone, batch["image"], batch.get("caption"), bank,
                        folder=config.cache_dir or None, store=config.cache_features)


def created_batch(config: Any, tasks: list[str], size: int, labelled_ids: set[str], pool_ids: set[str]) -> dict | None:
    """The created samples of ``config.synthetic`` whose source is allowed by ``config.synthetic_from``."""
    if not config.synthetic:
        return None
    created = load_all(open_split("folder", config.synthetic, "train", tasks, size))
    sources = [str(i).rsplit("_c", 1)[0] for i in created["id"]]
    allowed = {"any": None, "labelled": labelled_ids, "unlabelled": pool_ids}[config.synthetic_from]
    if allowed is None:
        return created
    rows = torch.tensor([i for i, s in enumerate(sources) if s in allowed], dtype=torch.long)
    if not len(rows):
        raise ValueError(f"{config.synthetic}: no created sample comes from a {config.synthetic_from} source "
                         f"(ids look like {created['id'][:2]}); create from those images first")
    return take(created, rows)


def unlabelled_batch(config: Any, full: Any, excluded: set[int], size: int) -> dict | None:
    """Real images without labels: the training split outside ``excluded`` rows, or a folder of images.

    A folder in the project layout gives its train split; with ``unlabelled_labels='ground_truth'`` (the
    oracle) it is read with the --dataset reader and keeps its labels.
    """
    if not config.unlabelled:
        return None
    limit = config.unlabelled_limit or None
    truth = config.unlabelled_labels == "ground_truth"
    if config.unlabelled == "split":
        rows = [i for i in range(len(full)) if i not in excluded][:limit]
        batch = load_all(Subset(full, rows))
    elif truth:
        dataset = open_split(config.dataset, config.unlabelled, "train", full.tasks, size)
        batch = load_all(Subset(dataset, range(min(len(dataset), limit or len(dataset)))))
    else:
        files = image_files(config.unlabelled)[:limit]
        images = load_images(config.unlabelled, size, limit=limit).float() / 255
        return {"image": images, "caption": [""] * len(images), "id": [f.stem for f in files]}
    if truth:
        return batch
    return {"image": batch["image"], "caption": list(batch.get("caption", [""] * len(batch["image"]))),
            "id": list(batch["id"])}


def concat_unlabelled(parts: list[dict | None]) -> dict | None:
    """Created and unlabelled samples as one pool (images, captions, ids; labels dropped)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return {"image": torch.cat([p["image"] for p in parts]),
            "caption": [c for p in parts for c in p.get("caption", [""] * len(p["image"]))],
            "id": [i for p in parts for i in p["id"]]}
