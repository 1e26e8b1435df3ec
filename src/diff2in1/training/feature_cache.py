"""Frozen-backbone features computed once per image (and once for its mirror image), stored in fp16.

With a frozen UNet and a fixed timestep, an image's features never change, so warm-up and improve need
not run the UNet every epoch. Entries are keyed by SHA-256 of (image bytes, backbone fingerprint,
timestep): a changed image, backbone or timestep misses the cache instead of serving stale features.
With ``folder`` set, entries also go to ``folder/<key>.safetensors`` and are reused by later runs.
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
    """Features of a fixed set of images, looked up by position in that set."""

    def __init__(self, backbone: DiffusionBackbone, folder: str | Path | None = None, with_flip: bool = True,
                 dtype: torch.dtype = torch.float16):
        self.backbone, self.with_flip, self.dtype = backbone, with_flip, dtype
        self.folder = Path(folder) if folder else None
        self.levels: list[torch.Tensor] = []  # per level: N x (1 + with_flip) x C x h x w
        self.keys: list[str] = []
        self.hits = 0

    def _load_or_compute(self, images: torch.Tensor, captions: list[str] | None, keys: list[str]) -> list[list[torch.Tensor]]:
        """Per image: list of levels, each (1 + with_flip) x C x h x w."""
        out: list[list[torch.Tensor] | None] = [None] * len(keys)
        todo = []
        for i, key in enumerate(keys):
            path = self.folder / f"{key}.safetensors" if self.folder else None
            if path is not None and path.is_file():
                tensors = load_tensors(path)
                out[i] = [tensors[f"level{j}"] for j in range(len(tensors))]
                self.hits += 1
            else:
                todo.append(i)
        if todo:
            batch = images[todo].to(self.backbone.device)
            views = [batch, batch.flip(-1)] if self.with_flip else [batch]
            caps = [captions[i] for i in todo] if captions else None
            per_view = [self.backbone.extract_features(v * 2 - 1, captions=caps) for v in views]
            for row, i in enumerate(todo):
                levels = [torch.stack([view[j][row] for view in per_view]).to(self.dtype).cpu()
                          for j in range(len(per_view[0]))]
                out[i] = levels
                if self.folder is not None:
                    save_tensors(self.folder / f"{keys[i]}.safetensors", {f"level{j}": t for j, t in enumerate(levels)})
        return out  # type: ignore[return-value]

    def build(self, images: torch.Tensor, captions: list[str] | None = None, batch_size: int = 16,
              progress: bool = True) -> FeatureCache:
        """Fill the cache for ``images`` (Nx3xHxW in [0, 1]); replaces earlier entries."""
        fingerprint, timestep = self.backbone.fingerprint(), self.backbone.perception_timestep
        texts = captions if captions else [""] * len(images)
        self.keys = [entry_key(image, fingerprint, timestep, text) for image, text in zip(images, texts)]
        rows: list[list[torch.Tensor]] = []
        for start in tqdm(range(0, len(images), batch_size), desc="features", leave=False, disable=not progress):
            stop = start + batch_size
            caps = captions[start:stop] if captions else None
            rows += self._load_or_compute(images[start:stop], caps, self.keys[start:stop])
        self.levels = [torch.stack([row[j] for row in rows]) for j in range(len(rows[0]))]
        return self

    def get(self, indices: torch.Tensor, flipped: torch.Tensor | None = None,
            device: torch.device | None = None) -> list[torch.Tensor]:
        """Features of images ``indices`` (B,), of their mirror where ``flipped`` (B bool), as float32."""
        indices = indices.cpu()
        view = flipped.long().cpu() if (flipped is not None and self.with_flip) else torch.zeros_like(indices)
        if flipped is not None and flipped.any() and not self.with_flip:
            raise ValueError("FeatureCache was built without flipped features; build it with with_flip=True")
        device = device or self.backbone.device
        return [level[indices, view].to(device).float() for level in self.levels]  # convert after the copy: half the bytes
