"""The rooms backbone shipped inside the package (see assets/rooms64/TRAINING.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

from ..fileio import verify_checksums
from .pixel import PixelBackbone

EMBEDDED_NAME = "rooms64"


def embedded_backbone_path(name: str = EMBEDDED_NAME) -> Path:
    return Path(str(resources.files("diff2in1") / "assets" / name))


def verify_embedded_backbone(folder: str | Path | None = None) -> Path:
    """Check every file listed in the folder's SHA256SUMS; raise ValueError naming a file that differs."""
    return verify_checksums(embedded_backbone_path() if folder is None else folder, "the embedded backbone")


def load_embedded_backbone(device: str | torch.device | None = None, dtype: torch.dtype = torch.float32,
                           **kwargs) -> PixelBackbone:
    """The shipped rooms backbone, hash-checked, as fp32 (its fp16 weights are upcast for CPU use)."""
    return PixelBackbone.from_pretrained(verify_embedded_backbone(), device=device, dtype=dtype, **kwargs)
