"""The rooms backbone shipped inside the package (see assets/rooms64/TRAINING.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

from ..fileio import sha256_file
from .pixel import PixelBackbone

EMBEDDED_NAME = "rooms64"


def embedded_backbone_path(name: str = EMBEDDED_NAME) -> Path:
    return Path(str(resources.files("diff2in1") / "assets" / name))


def verify_embedded_backbone(folder: str | Path | None = None) -> Path:
    """Check every file listed in the folder's SHA256SUMS; raise ValueError naming a file that differs."""
    folder = Path(folder) if folder is not None else embedded_backbone_path()
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise FileNotFoundError(f"{sums}: checksum list of the embedded backbone is missing; reinstall diff2in1")
    for line in sums.read_text().splitlines():
        expected, name = line.split(maxsplit=1)
        path = folder / name.strip()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: file of the embedded backbone is missing; reinstall diff2in1")
        found = sha256_file(path)
        if found != expected:
            raise ValueError(
                f"{path}: SHA-256 {found[:16]}… does not match {expected[:16]}… in {sums}; "
                "the file is corrupt or was replaced (a Git LFS pointer?); reinstall diff2in1"
            )
    return folder


def load_embedded_backbone(device: str | torch.device | None = None, dtype: torch.dtype = torch.float32,
                           **kwargs) -> PixelBackbone:
    """The shipped rooms backbone, hash-checked, as fp32 (its fp16 weights are upcast for CPU use)."""
    return PixelBackbone.from_pretrained(verify_embedded_backbone(), device=device, dtype=dtype, **kwargs)
