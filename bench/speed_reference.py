"""Counting the images the frozen UNet sees during a step, for bench/speed.py's improve measurements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from diff2in1.backbones import DiffusionBackbone


def count_unet_images(backbone: DiffusionBackbone, run: Callable[[], Any]) -> int:
    """Images the UNet saw during ``run()`` (summed over its forward calls)."""
    seen = [0]

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
        seen[0] += int((args[0] if args else kwargs["sample"]).shape[0])

    handle = backbone.unet.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        run()
    finally:
        handle.remove()
    return seen[0]
