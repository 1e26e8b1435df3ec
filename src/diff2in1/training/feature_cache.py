"""Frozen-backbone features computed once per image (and once for its mirror image), stored in fp16.

With a frozen UNet and a fixed timestep, an image's features never change, so warm-up and improve need
not run the UNet every epoch. Entries are keyed by SHA-256 of (image bytes, backbone fingerprint,
timestep): a changed image, backbone or timestep misses the cache instead of serving stale features.
With ``folder`` set, entries also go to ``folder/<key>.safetensors`` (``<key>-flip`` for the mirror image) and
are reused by later runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from tqdm import tqdm

from ..backbones import DiffusionBackbone
from ..fileio import load_tensors, save_tensors


def entry_key(image: torch.Tensor, fingerprint: str, timestep: int, caption: str = "") -> str:
    """Key of an image in [0, 1] (3xHxW), quantised to 8 bits so tiny float noise does not miss.

    ``caption`` is the text condition (text backbones): a re-captioned image misses the cache.
    """
    data = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy().tobytes()
    digest = hashlib.sha256(data)
    digest.update(f"{fingerprint}:{timestep}:{tuple(image.shape)}:{caption}".encode())
    return digest.hexdigest()[:32]


class FeatureCache:
    """Features of a fixed set of images, looked up by position in that set, computed when first asked for.

    Lazy, per (image, view): the first epoch runs the UNet once per sample, as an uncached epoch does,
    instead of once for every image and its mirror up front; later epochs only read memory.
    """

    def __init__(self, backbone: DiffusionBackbone, folder: str | Path | None = None, with_flip: bool = True,
                 dtype: torch.dtype = torch.float16, batch_size: int = 16):
        self.backbone, self.with_flip, self.dtype, self.batch_size = backbone, with_flip, dtype, batch_size
        self.folder = Path(folder) if folder else None
        self.levels: list[torch.Tensor] = []  # per level: N x (1 + with_flip) x C x h x w, filled as computed
        self.keys: list[str] = []
        self.done = torch.zeros(0, 1 + with_flip, dtype=torch.bool)
        self.images: torch.Tensor | None = None
        self.captions: list[str] | None = None
        self.hits = 0  # (image, view) entries read from the folder instead of computed

    def _path(self, index: int, view: int) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / f"{self.keys[index]}{'-flip' if view else ''}.safetensors"

    def _store(self, index: int, view: int, levels: list[torch.Tensor]) -> None:
        if not self.levels:
            self.levels = [torch.zeros(len(self.keys), self.done.shape[1], *t.shape, dtype=self.dtype) for t in levels]
        for storage, level in zip(self.levels, levels):
            storage[index, view] = level
        self.done[index, view] = True

    def _compute(self, index: list[int], view: int) -> None:
        assert self.images is not None
        batch = self.images[index].to(self.backbone.device)
        batch = batch.flip(-1) if view else batch
        caps = [self.captions[i] for i in index] if self.captions else None
        # Noise seeded per entry: an entry's features do not depend on which others share its batch, so a
        # resumed run, which fills the cache in another order, reads what the uninterrupted run read.
        generators = [torch.Generator().manual_seed(int(self.keys[i][:15], 16) + view) for i in index]
        features = self.backbone.extract_features(batch * 2 - 1, captions=caps, generator=generators)
        for row, i in enumerate(index):
            levels = [f[row].to(self.dtype).cpu() for f in features]
            self._store(i, view, levels)
            path = self._path(i, view)
            if path is not None:
                save_tensors(path, {f"level{j}": t for j, t in enumerate(levels)})

    def _fill(self, pairs: list[tuple[int, int]], progress: bool = False) -> None:
        """Compute the (image, view) entries not held yet, in batches of one view."""
        for view in range(self.done.shape[1]):
            todo = sorted({i for i, v in pairs if v == view and not self.done[i, v]})
            starts = range(0, len(todo), self.batch_size)
            for start in tqdm(starts, desc="features", leave=False, disable=not progress or len(starts) < 2):
                self._compute(todo[start : start + self.batch_size], view)

    def build(self, images: torch.Tensor, captions: list[str] | None = None, batch_size: int | None = None,
              progress: bool = True, eager: bool = False) -> FeatureCache:
        """Register ``images`` (Nx3xHxW in [0, 1]), replacing earlier entries; read what the folder holds.

        With ``eager``, compute every missing entry now (a progress bar shows it); otherwise each one is
        computed the first time ``get`` asks for it.
        """
        self.batch_size = batch_size or self.batch_size
        fingerprint, timestep = self.backbone.fingerprint(), self.backbone.perception_timestep
        texts = captions if captions else [""] * len(images)
        self.keys = [entry_key(image, fingerprint, timestep, text) for image, text in zip(images, texts)]
        self.images, self.captions = images.detach().cpu(), list(captions) if captions else None
        self.levels, self.done = [], torch.zeros(len(images), self.done.shape[1], dtype=torch.bool)
        pairs = [(i, v) for i in range(len(images)) for v in range(self.done.shape[1])]
        for i, v in pairs:
            path = self._path(i, v)
            if path is not None and path.is_file():
                tensors = load_tensors(path)
                self._store(i, v, [tensors[f"level{j}"] for j in range(len(tensors))])
                self.hits += 1
        if eager:
            self.fill(progress)
        return self

    def fill(self, progress: bool = False) -> FeatureCache:
        """Compute every entry not held yet (both views of every image)."""
        self._fill([(i, v) for i in range(len(self.keys)) for v in range(self.done.shape[1])], progress)
        return self

    def get(self, indices: torch.Tensor, flipped: torch.Tensor | None = None,
            device: torch.device | None = None) -> list[torch.Tensor]:
        """Features of images ``indices`` (B,), of their mirror where ``flipped`` (B bool), as float32."""
        indices = indices.cpu()
        view = flipped.long().cpu() if (flipped is not None and self.with_flip) else torch.zeros_like(indices)
        if flipped is not None and flipped.any() and not self.with_flip:
            raise ValueError("FeatureCache was built without flipped features; build it with with_flip=True")
        self._fill(list(zip(indices.tolist(), view.tolist())))
        device = device or self.backbone.device
        return [level[indices, view].to(device).float() for level in self.levels]  # convert after the copy: half the bytes
