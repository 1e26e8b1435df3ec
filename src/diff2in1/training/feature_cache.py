"""Frozen-backbone features computed once per image (and once for its mirror image), stored in fp16.

With a frozen UNet and a fixed timestep, an image's features never change, so warm-up and improve need
not run the UNet every epoch. Entries are keyed by SHA-256 of (image bytes, backbone fingerprint,
timestep, caption): a changed image, backbone or timestep misses the cache instead of serving stale
features.

Two stores (``feature_store``): ``ram`` holds the entries in memory (small sets); with ``folder`` set,
entries also go to ``folder/<key>.safetensors`` (``<key>-flip`` for the mirror image) and are reused by
later runs. ``disk`` keeps them in memory-mapped files under ``folder/<set digest>/``, so RAM does not
grow with the data set, processes on one machine share one copy and later runs on the same images reuse
it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from tqdm import tqdm

from ..backbones import DiffusionBackbone
from ..fileio import load_tensors, save_tensors
from ..perception.identity import image_key
from .feature_store import DiskStore, RamStore

STORAGES = ("ram", "disk")


class FeatureCache:
    """Features of a fixed set of images, looked up by position in that set, computed when first asked for.

    Lazy, per (image, view): the first epoch runs the UNet once per sample, as an uncached epoch does,
    instead of once for every image and its mirror up front; later epochs only read the store. The images
    come from ``build`` (held in memory) or, for sets streamed from disk, with each ``get`` (``register``).
    """

    def __init__(self, backbone: DiffusionBackbone, folder: str | Path | None = None, with_flip: bool = True,
                 dtype: torch.dtype = torch.float16, batch_size: int = 16, storage: str = "ram"):
        if storage not in STORAGES or (storage == "disk" and not folder):
            raise ValueError(f"FeatureCache: storage must be one of {STORAGES} ('disk' needs a folder), "
                             f"got {storage!r} with folder {folder!r}")
        self.backbone, self.with_flip, self.dtype, self.batch_size = backbone, with_flip, dtype, batch_size
        self.folder, self.storage = (Path(folder) if folder else None), storage
        self.keys: list[str] = []
        self.store: RamStore | DiskStore = RamStore(0, 1 + with_flip, dtype)
        self.images: torch.Tensor | None = None
        self.captions: list[str] | None = None
        self.hits = 0  # (image, view) entries read from the folder instead of computed

    @property
    def views(self) -> int:
        return 1 + self.with_flip

    @property
    def done(self) -> torch.Tensor:
        """N x views bool: the entries held."""
        return torch.tensor([[self.store.done(i, v) for v in range(self.views)] for i in range(len(self.keys))],
                            dtype=torch.bool).reshape(len(self.keys), self.views)

    def _path(self, index: int, view: int) -> Path | None:
        if self.folder is None or self.storage == "disk":
            return None
        return self.folder / f"{self.keys[index]}{'-flip' if view else ''}.safetensors"

    def _compute(self, index: list[int], view: int, images: torch.Tensor, captions: list[str] | None) -> None:
        """Features of ``images`` (already in the view's orientation), stored as entries ``index``."""
        # Noise seeded per entry: an entry's features do not depend on which others share its batch, so a
        # resumed or sharded run, which fills the cache in another order, reads what a plain run read.
        generators = [torch.Generator().manual_seed(int(self.keys[i][:15], 16) + view) for i in index]
        features = self.backbone.extract_features(images.to(self.backbone.device) * 2 - 1, captions=captions,
                                                  generator=generators)
        for row, i in enumerate(index):
            levels = [f[row].to(self.dtype).cpu() for f in features]
            self.store.write(i, view, levels)
            path = self._path(i, view)
            if path is not None:
                save_tensors(path, {f"level{j}": t for j, t in enumerate(levels)})

    def _held_images(self, index: list[int], view: int) -> tuple[torch.Tensor, list[str] | None]:
        assert self.images is not None
        batch = self.images[index]
        return (batch.flip(-1) if view else batch), ([self.captions[i] for i in index] if self.captions else None)

    def _fill(self, pairs: list[tuple[int, int]], progress: bool = False) -> None:
        """Compute the (image, view) entries not held yet from the held images, in batches of one view."""
        for view in range(self.views):
            todo = sorted({i for i, v in pairs if v == view and not self.store.done(i, v)})
            starts = range(0, len(todo), self.batch_size)
            for start in tqdm(starts, desc="features", leave=False, disable=not progress or len(starts) < 2):
                chunk = todo[start : start + self.batch_size]
                self._compute(chunk, view, *self._held_images(chunk, view))

    def register(self, keys: list[str], captions: list[str] | None = None) -> FeatureCache:
        """Entries for a set of images not held in memory, by their ``image_key``s; ``get`` brings the pixels."""
        self.keys, self.images, self.captions = list(keys), None, captions
        self._open_store()
        return self

    def _open_store(self) -> None:
        if self.storage == "disk":
            assert self.folder is not None
            digest = hashlib.sha256(f"{self.views}:{','.join(self.keys)}".encode()).hexdigest()[:20]
            self.store = DiskStore(self.folder / digest, len(self.keys), self.views)
            self.hits = int(self.store.flags.sum())
        else:
            self.store = RamStore(len(self.keys), self.views, self.dtype)

    def build(self, images: torch.Tensor, captions: list[str] | None = None, batch_size: int | None = None,
              progress: bool = True, eager: bool = False) -> FeatureCache:
        """Register ``images`` (Nx3xHxW in [0, 1]), replacing earlier entries; read what the folder holds.

        With ``eager``, compute every missing entry now (a progress bar shows it); otherwise each one is
        computed the first time ``get`` asks for it.
        """
        self.batch_size = batch_size or self.batch_size
        fingerprint, timestep = self.backbone.fingerprint(), self.backbone.perception_timestep
        texts = captions if captions else [""] * len(images)
        self.register([image_key(image, fingerprint, timestep, text) for image, text in zip(images, texts)])
        self.images, self.captions = images.detach().cpu(), list(captions) if captions else None
        for i in range(len(images)):
            for v in range(self.views):
                path = self._path(i, v)
                if path is not None and path.is_file():
                    tensors = load_tensors(path)
                    self.store.write(i, v, [tensors[f"level{j}"] for j in range(len(tensors))])
                    self.hits += 1
        if eager:
            self.fill(progress)
        return self

    def fill(self, progress: bool = False) -> FeatureCache:
        """Compute every entry not held yet (both views of every image)."""
        self._fill([(i, v) for i in range(len(self.keys)) for v in range(self.views)], progress)
        return self

    def get(self, indices: torch.Tensor, flipped: torch.Tensor | None = None, device: torch.device | None = None,
            images: torch.Tensor | None = None, captions: list[str] | None = None) -> list[torch.Tensor]:
        """Features of images ``indices`` (B,), of their mirror where ``flipped`` (B bool), as float32.

        ``images`` (Bx3xHxW in [0, 1], already flipped where ``flipped``) and their ``captions``: the pixels
        of missing entries when the cache holds no images (``register``).
        """
        indices = indices.cpu()
        view = flipped.long().cpu() if (flipped is not None and self.with_flip) else torch.zeros_like(indices)
        if flipped is not None and flipped.any() and not self.with_flip:
            raise ValueError("FeatureCache was built without flipped features; build it with with_flip=True")
        pairs = list(zip(indices.tolist(), view.tolist()))
        if self.images is not None:
            self._fill(pairs)
        else:
            self._fill_given(pairs, images, captions)
        device = device or self.backbone.device
        return [level.to(device).float() for level in self.store.read(indices, view)]  # convert after the copy

    def _fill_given(self, pairs: list[tuple[int, int]], images: torch.Tensor | None,
                    captions: list[str] | None) -> None:
        rows: dict[tuple[int, int], int] = {}
        for row, pair in enumerate(pairs):
            if not self.store.done(*pair):
                rows.setdefault(pair, row)
        if not rows:
            return
        if images is None:
            raise ValueError("FeatureCache.get: entries missing and no images given (registered without images)")
        for view in range(self.views):
            chosen = [(i, row) for (i, v), row in rows.items() if v == view]
            if chosen:
                index, at = [i for i, _ in chosen], [row for _, row in chosen]
                self._compute(index, view, images[at], [captions[r] for r in at] if captions else None)
