"""Frozen-backbone features of (image, view) pairs, computed once and kept in memory or in a folder.

An entry is one view of one image (see ``views.py``); its features depend only on the image, the view's
settings, the backbone and the perception timestep, so they are stored under a key made of those. With a
folder, each entry is a small safetensors file written atomically: several processes (benchmark seeds,
ranks of one run) can share the folder, the operating system's page cache holds what is hot, and a
process's memory does not grow with the data set. Without a folder, entries stay in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..backbones import DiffusionBackbone
from ..fileio import load_tensors, save_tensors
from .feature_cache import entry_key
from .samples import HeldSamples, ReadSamples
from .views import ViewBank, ViewParams, apply_view


def sample_keys(backbone: DiffusionBackbone, samples: HeldSamples | ReadSamples) -> list[str]:
    """``entry_key`` of every sample: image, caption (when the backbone reads text), backbone, timestep."""
    fingerprint, timestep = backbone.fingerprint(), backbone.perception_timestep
    keys = []
    for batch in samples.chunks():
        texts = list(batch["caption"]) if backbone.takes_text and "caption" in batch else [""] * len(batch["image"])
        keys += [entry_key(image, fingerprint, timestep, text) for image, text in zip(batch["image"], texts)]
    return keys


class ViewFeatures:
    """Features of views of a fixed set of samples (``samples.py``), looked up by (row, view)."""

    def __init__(self, backbone: DiffusionBackbone, samples: HeldSamples | ReadSamples, bank: ViewBank,
                 folder: str | Path | None = None, store: bool = True, batch_size: int = 8):
        self.backbone, self.samples, self.bank, self.batch_size = backbone, samples, bank, batch_size
        self.keys = sample_keys(backbone, samples)
        self.folder = Path(folder) if folder else None
        self.store = store  # False: compute on every request (an uncached run)
        self.memory: dict[tuple[int, int], list[torch.Tensor]] = {}
        self.computed = 0  # UNet passes run, one per entry

    def params(self, indices: torch.Tensor, views: torch.Tensor) -> ViewParams:
        """The ViewParams of each (image, view) pair."""
        parts = [self.bank.params([self.keys[i]], v) for i, v in zip(indices.tolist(), views.tolist())]
        return ViewParams.stack(parts)

    def _path(self, index: int, view: int) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / f"{self.keys[index]}-{self.bank.tag(view)}.safetensors"

    def _lookup(self, index: int, view: int) -> list[torch.Tensor] | None:
        if (index, view) in self.memory:
            return self.memory[index, view]
        path = self._path(index, view)
        if self.store and path is not None and path.is_file():
            tensors = load_tensors(path)
            return [tensors[f"level{j}"] for j in range(len(tensors))]
        return None

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
            for row, pair in enumerate(chunk):
                levels = [f[row].to(torch.float16).cpu() for f in features]
                found[pair] = levels
                if self.store:
                    self._keep(pair, levels)
        return found

    def _keep(self, pair: tuple[int, int], levels: list[torch.Tensor]) -> None:
        path = self._path(*pair)
        if path is None:
            self.memory[pair] = levels
        else:
            save_tensors(path, {f"level{j}": t for j, t in enumerate(levels)})

    def get(self, indices: torch.Tensor, views: torch.Tensor, device: torch.device | None = None) -> list[torch.Tensor]:
        """Features (float32, on ``device``) of images ``indices`` (B,) in views ``views`` (B,)."""
        pairs = list(zip(indices.tolist(), views.tolist()))
        held: dict[tuple[int, int], Any] = {p: self._lookup(*p) for p in set(pairs)}
        missing = sorted(p for p, v in held.items() if v is None)
        held.update(self._compute(missing))
        device = device or self.backbone.device
        return [torch.stack([held[p][level] for p in pairs]).to(device).float() for level in range(len(held[pairs[0]]))]

    def fill(self, views: list[int], progress: bool = False) -> None:
        """Compute every missing (image, view) entry for ``views`` now (a progress bar when asked)."""
        from tqdm import tqdm

        pairs = [(i, v) for v in views for i in range(len(self.keys)) if self._lookup(i, v) is None]
        for start in tqdm(range(0, len(pairs), 256), desc="features", leave=False, disable=not progress):
            self._compute(pairs[start : start + 256])
