"""Frozen-backbone features of (image, view) pairs, computed once and kept in memory or in a folder.

An entry is one view of one image (see ``views.py``); its features depend only on the image, the view's
settings, the backbone and the perception timestep. Entries live in one table per view of the sample set
(``feature_store``): in RAM, or with a folder, in memory-mapped files under
``folder/views/<digest of the set's keys and the view's tag>/``. Several processes (benchmark seeds, ranks
of one run) share those files, the operating system's page cache holds what is hot, and a process's memory
does not grow with the data set.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..backbones import DiffusionBackbone
from ..perception.identity import image_key
from ..training.feature_store import DiskStore, RamStore
from ..training.samples import HeldSamples, ReadSamples
from .views import ViewBank, ViewParams, apply_view


def sample_keys(backbone: DiffusionBackbone, samples: HeldSamples | ReadSamples) -> list[str]:
    """``image_key`` of every sample: image, caption (when the backbone reads text), backbone, timestep."""
    fingerprint, timestep = backbone.fingerprint(), backbone.perception_timestep
    keys = []
    for batch in samples.chunks():
        texts = list(batch["caption"]) if backbone.takes_text and "caption" in batch else [""] * len(batch["image"])
        keys += [image_key(image, fingerprint, timestep, text) for image, text in zip(batch["image"], texts)]
    return keys


class ViewFeatures:
    """Features of views of a fixed set of samples (``samples.py``), looked up by (row, view)."""

    def __init__(self, backbone: DiffusionBackbone, samples: HeldSamples | ReadSamples, bank: ViewBank,
                 folder: str | Path | None = None, store: bool = True, batch_size: int = 8):
        self.backbone, self.samples, self.bank, self.batch_size = backbone, samples, bank, batch_size
        self.keys = sample_keys(backbone, samples)
        self.folder = Path(folder) if folder else None
        # A trained UNet's features change every step: computed on every request, with gradients in grad mode.
        self.live = backbone.trained is not None
        self.store = store and not self.live  # False: compute on every request (an uncached run)
        self.tables: dict[int, RamStore | DiskStore] = {}
        self.computed = 0  # UNet passes run, one per entry

    def params(self, indices: torch.Tensor, views: torch.Tensor) -> ViewParams:
        """The ViewParams of each (image, view) pair."""
        parts = [self.bank.params([self.keys[i]], v) for i, v in zip(indices.tolist(), views.tolist())]
        return ViewParams.stack(parts)

    def _table(self, view: int) -> RamStore | DiskStore:
        """The entries of every sample in view ``view``, one per row."""
        if view not in self.tables:
            if self.folder is None:
                self.tables[view] = RamStore(len(self.keys), 1)
            else:
                digest = hashlib.sha256(f"{self.bank.tag(view)}:{','.join(self.keys)}".encode()).hexdigest()[:20]
                self.tables[view] = DiskStore(self.folder / "views" / digest, len(self.keys), 1)
        return self.tables[view]

    def _held(self, index: int, view: int) -> bool:
        return self.store and self._table(view).done(index, 0)

    def _compute(self, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], list[torch.Tensor]]:
        found: dict[tuple[int, int], list[torch.Tensor]] = {}
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            rows = torch.tensor([i for i, _ in chunk])
            params = self.params(rows, torch.tensor([v for _, v in chunk]))
            batch = self.samples.read(rows)
            images = apply_view(batch["image"].to(self.backbone.device), params)
            captions = list(batch["caption"]) if self.backbone.takes_text and "caption" in batch else None
            generators = [torch.Generator().manual_seed(seed) for seed in params.noise_seeds]
            features = self.backbone.extract_features(images * 2 - 1, captions=captions, generator=generators)
            self.computed += len(chunk)
            for row, (index, view) in enumerate(chunk):
                levels = [f[row].to(torch.float16).cpu() for f in features]
                found[index, view] = levels
                if self.store:
                    self._table(view).write(index, 0, levels)
        return found

    def _read(self, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], list[torch.Tensor]]:
        """Held entries, one table read per view."""
        out: dict[tuple[int, int], list[torch.Tensor]] = {}
        for view in {v for _, v in pairs}:
            rows = sorted(i for i, v in pairs if v == view)
            levels = self._table(view).read(torch.tensor(rows), torch.zeros(len(rows), dtype=torch.long))
            out.update({(i, view): [level[k] for level in levels] for k, i in enumerate(rows)})
        return out

    def _live_features(self, indices: torch.Tensor, views: torch.Tensor) -> list[torch.Tensor]:
        """A trained UNet's features of the pairs, in one pass (gradients reach it in grad mode)."""
        params = self.params(indices, views)
        batch = self.samples.read(indices)
        images = apply_view(batch["image"].to(self.backbone.device), params)
        captions = list(batch["caption"]) if self.backbone.takes_text and "caption" in batch else None
        generators = [torch.Generator().manual_seed(seed) for seed in params.noise_seeds]
        self.computed += len(indices)
        return self.backbone.perception_features(images * 2 - 1, captions=captions, generator=generators)

    def get(self, indices: torch.Tensor, views: torch.Tensor, device: torch.device | None = None) -> list[torch.Tensor]:
        """Features (float32, on ``device``) of images ``indices`` (B,) in views ``views`` (B,)."""
        if self.live:  # without gradients (θC, evaluation) in passes of at most ``batch_size`` images
            size = len(indices) if torch.is_grad_enabled() else self.batch_size
            parts = [self._live_features(indices[i:i + size], views[i:i + size]) for i in range(0, len(indices), size)]
            return [torch.cat([part[level] for part in parts]).float().to(device or self.backbone.device)
                    for level in range(len(parts[0]))]
        pairs = list(zip(indices.tolist(), views.tolist()))
        missing = sorted(p for p in set(pairs) if not self._held(*p))
        held = self._compute(missing)
        held.update(self._read(set(pairs) - set(held)))
        device = device or self.backbone.device
        # Held entries are float16 CPU tensors: under a bf16 CPU autocast, torch.stack refuses float16 inputs.
        with torch.autocast("cpu", enabled=False):
            return [torch.stack([held[p][level] for p in pairs]).to(device).float() for level in range(len(held[pairs[0]]))]

    def fill(self, views: list[int], progress: bool = False) -> None:
        """Compute every missing (image, view) entry for ``views`` now (a progress bar when asked)."""
        from tqdm import tqdm

        pairs = [(i, v) for v in views for i in range(len(self.keys)) if not self._held(i, v)]
        for start in tqdm(range(0, len(pairs), 256), desc="features", leave=False, disable=not progress):
            self._compute(pairs[start : start + 256])
