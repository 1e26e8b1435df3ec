"""`load_backbone`: one entry point that picks the backbone class from the kind or from the folder's contents."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from .base import DiffusionBackbone
from .pixel import PixelBackbone
from .stable_diffusion import StableDiffusionBackbone

BACKBONE_KINDS = ("stable_diffusion", "pixel", "auto")
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def load_backbone(
    kind: str,
    path: str | os.PathLike,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    **kw,
) -> DiffusionBackbone:
    """Load a frozen diffusion backbone.

    Args:
        kind: ``"stable_diffusion"`` (a diffusers folder, a hub id, or a single .safetensors/.ckpt file),
            ``"pixel"`` (``DIR/unet/`` with a ``UNet2DModel`` + ``DIR/scheduler/``) or ``"auto"`` (decided from
            what ``path`` holds).
        path: the folder, file or (Stable Diffusion only) Hugging Face Hub id.
        device, dtype: where and in which precision to put the models (default: CPU, float32).
        kw: passed on to the class's loader: ``perception_timestep``, ``feature_layers``, ``text_cache_size``
            (SD), and diffusers loading options such as ``variant`` or ``local_files_only`` (or ``config`` for
            a single file).

    Raises:
        ValueError: unknown kind, or a folder that holds neither kind of model.
        FileNotFoundError: a path that does not exist (and is not a hub id).
    """
    if kind not in BACKBONE_KINDS:
        raise ValueError(f"unknown backbone kind {kind!r}; expected one of {list(BACKBONE_KINDS)}")
    location = Path(path)
    if not location.exists() and not (kind != "pixel" and _HUB_ID.match(str(path))):
        raise FileNotFoundError(
            f"backbone path {location} does not exist; pass a diffusers model folder, a .safetensors/.ckpt "
            "file or (Stable Diffusion) a Hugging Face Hub id like 'stable-diffusion-v1-5/stable-diffusion-v1-5'"
        )
    if kind == "auto":
        kind = detect_backbone_kind(path)
    options = dict(device=device, dtype=dtype, **kw)
    if kind == "pixel":
        return PixelBackbone.from_pretrained(path, **options)
    if location.is_file():
        return StableDiffusionBackbone.from_single_file(path, **options)
    return StableDiffusionBackbone.from_pretrained(path, **options)


def _unet_class(folder: Path) -> str | None:
    for config in (folder / "unet" / "config.json", folder / "config.json"):
        if config.is_file():
            try:
                return json.loads(config.read_text()).get("_class_name")
            except (OSError, json.JSONDecodeError) as error:
                raise ValueError(f"{config} is not a readable JSON model config: {error}") from error
    return None


def detect_backbone_kind(path: str | os.PathLike) -> str:
    """``"stable_diffusion"`` or ``"pixel"``, from what ``path`` holds (a hub id counts as Stable Diffusion).

    A .safetensors/.ckpt file or a folder with model_index.json / vae/ / a UNet2DConditionModel is Stable
    Diffusion; a folder whose ``unet/config.json`` (or ``config.json``) is a ``UNet2DModel`` is pixel-space.
    """
    location = Path(path)
    if not location.exists():
        if _HUB_ID.match(str(path)):
            return "stable_diffusion"
        raise FileNotFoundError(f"backbone path {location} does not exist")
    if location.is_file():
        if location.suffix in SINGLE_FILE_SUFFIXES:
            return "stable_diffusion"
        raise ValueError(
            f"{location} is a file but not a .safetensors/.ckpt checkpoint; pass a diffusers model folder instead"
        )
    unet_class = _unet_class(location)
    if unet_class == "UNet2DModel":
        return "pixel"
    if (
        unet_class == "UNet2DConditionModel"
        or (location / "model_index.json").is_file()
        or (location / "vae").is_dir()
    ):
        return "stable_diffusion"
    found = sorted(p.name for p in location.iterdir())[:20]
    raise ValueError(
        f"{location} holds neither a Stable Diffusion folder (model_index.json, unet/, vae/, text_encoder/, "
        "tokenizer/, scheduler/) nor a pixel-space model (unet/config.json of a UNet2DModel, scheduler/); "
        f"found {found or 'an empty folder'}"
    )
