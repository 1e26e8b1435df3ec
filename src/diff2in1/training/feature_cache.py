"""The frozen backbone's features of (image, view) pairs, computed once and kept in RAM and/or in a folder.

With a frozen UNet and a fixed timestep, the features of a view of an image never change, so warm-up and
improve need not run the UNet every epoch. An entry is keyed by the image's key (``image_key``: its 8-bit
pixels, its caption, the backbone's fingerprint and the perception timestep) and the view's tag, so a
changed image, backbone or timestep misses instead of serving stale features.

A view is handed in as a ``ViewSpec``: its tag (what its pixels depend on), how its pixels are made from the
image and its noise draw. The engine knows the image itself and its mirror (the warm-up's flip); the
self-improving stage's views (crops, jitter, shifts) are defined there and name the same two entries for
its views 0 and 1, so improve reads what the warm-up computed when both share a folder.

One disk layout: ``folder/<view tag>/<image key>.safetensors``, one fp16 tensor per feature level, written
atomically. Processes on one machine and later runs share the files (each writes what it computes and
finds what the others wrote); reading them per batch keeps RAM flat as the data set grows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from tqdm import tqdm

from ..backbones import DiffusionBackbone
from ..fileio import load_tensors, save_tensors
from ..perception.identity import CLEAN, MIRROR, image_key, noise_seed
from .samples import HeldSamples, ReadSamples


def _same(images: torch.Tensor, keys: list[str]) -> torch.Tensor:
    return images


def _mirrored(images: torch.Tensor, keys: list[str]) -> torch.Tensor:
    return images.flip(-1)


@dataclass(frozen=True)
class ViewSpec:
    """What the cache needs of a view: ``tag`` names the entries (two views with one tag share them),
    ``noise`` the view number its noise seed is drawn with (``identity.noise_seed``), and ``pixels`` makes
    the view of images (Bx3xHxW in [0, 1]) whose keys are given."""

    tag: str
    noise: int
    pixels: Callable[[torch.Tensor, list[str]], torch.Tensor] = _same


def image_view(noise: int, mirror: bool = False) -> ViewSpec:
    """The image itself, or its mirror, with noise draw ``noise``: exact pixels, no resampling."""
    return ViewSpec(f"v{noise}", noise, _mirrored if mirror else _same)


class Views(Protocol):
    def spec(self, view: int) -> ViewSpec: ...


class ImageAndMirror:
    """The warm-up's views: 0 the image, 1 its mirror (a flipped sample)."""

    def spec(self, view: int) -> ViewSpec:
        if view not in (CLEAN, MIRROR):
            raise ValueError(f"ImageAndMirror: view {view} is neither the image ({CLEAN}) nor its mirror ({MIRROR})")
        return image_view(view, mirror=view == MIRROR)


def image_keys(backbone: DiffusionBackbone, samples: HeldSamples | ReadSamples) -> list[str]:
    """``image_key`` of every sample: image, caption (when the backbone reads text), backbone, timestep."""
    fingerprint, timestep = backbone.fingerprint(), backbone.perception_timestep
    keys = []
    for batch in samples.chunks():
        texts = list(batch["caption"]) if backbone.takes_text and "caption" in batch else [""] * len(batch["image"])
        keys += [image_key(image, fingerprint, timestep, text) for image, text in zip(batch["image"], texts)]
    return keys


class FeatureEntries:
    """Features by (image key, view tag): in RAM (``hold``) and/or in ``folder``, one file per entry.

    The caches of several sample sets can share one, so an image that two sets hold (a pool of created
    images and the labelled one) runs the UNet once, in RAM as on disk.
    """

    def __init__(self, folder: str | Path | None = None, hold: bool = True):
        self.folder = Path(folder) if folder else None
        self.hold = hold or self.folder is None
        self.memory: dict[tuple[str, str], list[torch.Tensor]] = {}
        self._on_disk: set[tuple[str, str]] = set()  # written by this process, another one or an earlier run

    def _path(self, key: str, tag: str) -> Path:
        assert self.folder is not None
        return self.folder / tag / f"{key}.safetensors"

    def has(self, key: str, tag: str) -> bool:
        if (key, tag) in self.memory or (key, tag) in self._on_disk:
            return True
        if self.folder is None or not self._path(key, tag).is_file():
            return False
        self._on_disk.add((key, tag))
        return True

    def read(self, key: str, tag: str) -> list[torch.Tensor]:
        """An entry ``has`` found: one fp16 CPU tensor per feature level."""
        if (key, tag) in self.memory:
            return self.memory[key, tag]
        tensors = load_tensors(self._path(key, tag))
        levels = [tensors[f"level{j}"] for j in range(len(tensors))]
        if self.hold:
            self.memory[key, tag] = levels
        return levels

    def write(self, key: str, tag: str, levels: list[torch.Tensor]) -> None:
        if self.hold:
            self.memory[key, tag] = levels
        if self.folder is not None:
            save_tensors(self._path(key, tag), {f"level{j}": level for j, level in enumerate(levels)})
            self._on_disk.add((key, tag))


Pair = tuple[int, int]  # (row of the sample set, view)


class FeatureCache:
    """Features of views of a fixed set of samples (``samples.py``), looked up by (row, view).

    ``views.spec(view)`` says what a view is; ``entries`` hold what was computed (default: in RAM only).
    ``store=False``: computed on every request (an uncached run). ``computed`` counts UNet passes, one per
    entry.
    """

    def __init__(self, backbone: DiffusionBackbone, samples: HeldSamples | ReadSamples, views: Views,
                 entries: FeatureEntries | None = None, store: bool = True, batch_size: int = 8):
        self.backbone, self.samples, self.views, self.batch_size = backbone, samples, views, batch_size
        self.keys = image_keys(backbone, samples)
        self.entries = entries or FeatureEntries()
        # A trained UNet's features change every step: computed on every request, with gradients in grad mode.
        self.live = backbone.trained is not None
        self.store = store and not self.live
        self._specs: dict[int, ViewSpec] = {}
        self.computed = 0

    def spec(self, view: int) -> ViewSpec:
        if view not in self._specs:
            self._specs[view] = self.views.spec(view)
        return self._specs[view]

    def _entry(self, pair: Pair) -> tuple[str, str]:
        return self.keys[pair[0]], self.spec(pair[1]).tag

    def _inputs(self, pairs: list[Pair]) -> tuple[torch.Tensor, list[str] | None, list[torch.Generator]]:
        """The UNet's inputs for ``pairs``: the views' pixels in [-1, 1], captions, one noise generator each.

        Noise is seeded per entry, so an entry does not depend on which others share its pass: a resumed or
        sharded run, which fills the cache in another order, reads what a plain run read.
        """
        batch = self.samples.read(torch.tensor([row for row, _ in pairs]))
        source = batch["image"].to(self.backbone.device)
        images = torch.empty_like(source)
        for view in sorted({v for _, v in pairs}):
            at = [k for k, (_, v) in enumerate(pairs) if v == view]
            images[at] = self.spec(view).pixels(source[at], [self.keys[pairs[k][0]] for k in at]).to(source.dtype)
        captions = list(batch["caption"]) if self.backbone.takes_text and "caption" in batch else None
        generators = [torch.Generator().manual_seed(noise_seed(self.keys[row], self.spec(view).noise))
                      for row, view in pairs]
        return images * 2 - 1, captions, generators

    def _compute(self, pairs: list[Pair]) -> dict[Pair, list[torch.Tensor]]:
        """Features of ``pairs`` (fp16, CPU) in passes of at most ``batch_size`` images, stored when caching."""
        found: dict[Pair, list[torch.Tensor]] = {}
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            images, captions, generators = self._inputs(chunk)
            features = self.backbone.extract_features(images, captions=captions, generator=generators)
            self.computed += len(chunk)
            for k, pair in enumerate(chunk):
                found[pair] = [f[k].to(torch.float16).cpu() for f in features]
                if self.store:
                    self.entries.write(*self._entry(pair), found[pair])
        return found

    def _missing(self, pairs: set[Pair]) -> list[Pair]:
        return sorted(pairs if not self.store else (p for p in pairs if not self.entries.has(*self._entry(p))))

    def _live(self, rows: torch.Tensor, views: torch.Tensor) -> list[torch.Tensor]:
        """A trained UNet's features, without gradients (θC, evaluation) in passes of at most ``batch_size``."""
        pairs = list(zip(rows.tolist(), views.tolist()))
        size = len(pairs) if torch.is_grad_enabled() else self.batch_size
        parts = []
        for start in range(0, len(pairs), size):
            images, captions, generators = self._inputs(pairs[start : start + size])
            parts.append(self.backbone.perception_features(images, captions=captions, generator=generators))
            self.computed += len(pairs[start : start + size])
        return [torch.cat([part[level] for part in parts]) for level in range(len(parts[0]))]

    def get(self, rows: torch.Tensor, views: torch.Tensor, device: torch.device | None = None) -> list[torch.Tensor]:
        """Features (float32, on ``device``) of samples ``rows`` (B,) in views ``views`` (B,)."""
        device = device or self.backbone.device
        if self.live:  # gradients reach the trained UNet in grad mode
            return [level.float().to(device) for level in self._live(rows.cpu(), views.cpu())]
        pairs = list(zip(rows.tolist(), views.tolist()))
        held = self._compute(self._missing(set(pairs)))
        held.update({p: self.entries.read(*self._entry(p)) for p in set(pairs) - set(held)})
        # Entries are float16 CPU tensors: under a bf16 CPU autocast, torch.stack refuses float16 inputs.
        with torch.autocast("cpu", enabled=False):
            levels = [torch.stack([held[p][j] for p in pairs]) for j in range(len(held[pairs[0]]))]
        return [level.to(device).float() for level in levels]  # convert after the copy

    def fill(self, views: list[int], progress: bool = False) -> FeatureCache:
        """Compute every missing (row, view) entry of ``views`` now (a progress bar when asked)."""
        pairs = self._missing({(row, view) for view in views for row in range(len(self.keys))})
        for start in tqdm(range(0, len(pairs), 256), desc="features", leave=False, disable=not progress):
            self._compute(pairs[start : start + 256])
        return self
