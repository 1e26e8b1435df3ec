"""A pixel-space, unconditional UNet2DModel as a backbone (for domains no pretrained latent model fits)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from diffusers import DDIMScheduler, UNet2DModel
from torch import nn

from .base import DiffusionBackbone

logger = logging.getLogger(__name__)


def default_pixel_scheduler() -> DDIMScheduler:
    """DDPM's schedule (1000 steps, linear betas 1e-4..0.02), used when a folder has no scheduler/ config."""
    return DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)


class PixelBackbone(DiffusionBackbone):
    """An unconditional pixel-space ``UNet2DModel`` behind the `DiffusionBackbone` interface.

    The model space is the image space: `encode` / `decode` only clamp to [-1, 1], and feature strides are
    relative to the image directly (e.g. ``[1, 1]`` for a two-level UNet whose first decoder block upsamples
    back to full resolution).

    Args:
        unet: the denoising network (``UNet2DModel``, not class-conditional).
        scheduler: any diffusers scheduler of the model; its config is turned into a ``DDIMScheduler``.
        perception_timestep, feature_layers: see `DiffusionBackbone`.
    """

    takes_text = False

    def __init__(
        self,
        unet: UNet2DModel,
        scheduler=None,
        perception_timestep: int = 0,
        feature_layers: Sequence[str] | None = None,
    ) -> None:
        if unet.config.get("num_class_embeds") is not None or unet.config.get("class_embed_type") is not None:
            raise ValueError(
                "class-conditional UNet2DModels are not supported by PixelBackbone; use an unconditional one"
            )
        scheduler = (
            default_pixel_scheduler() if scheduler is None else DDIMScheduler.from_config(scheduler.config)
        )
        super().__init__(unet, scheduler, perception_timestep, feature_layers)
        self._freeze()

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        perception_timestep: int = 0,
        feature_layers: Sequence[str] | None = None,
        **load_kwargs,
    ) -> PixelBackbone:
        """Load ``DIR/unet/`` (a saved ``UNet2DModel``) and ``DIR/scheduler/`` (DDPM's schedule when absent).

        Args:
            path: the folder; a folder holding the UNet's ``config.json`` itself also works.
            device, dtype: where and in which precision to put the UNet (default: CPU, float32, also for
                weights stored in float16).
            load_kwargs: passed to ``UNet2DModel.from_pretrained`` (e.g. ``variant="fp16"``).
        """
        folder = Path(path)
        subfolder = "unet" if (folder / "unet" / "config.json").is_file() else None
        if subfolder is None and not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"{folder} has no pixel-space UNet: expected {folder / 'unet' / 'config.json'} "
                "(a UNet2DModel saved with save_pretrained) and optionally scheduler/scheduler_config.json"
            )
        try:
            unet = UNet2DModel.from_pretrained(
                folder, subfolder=subfolder, torch_dtype=dtype or torch.float32, **load_kwargs
            )
        except (OSError, ValueError) as error:
            raise OSError(
                f"could not load a UNet2DModel from {folder / (subfolder or '')}: {error}"
            ) from error
        scheduler = None
        if (folder / "scheduler" / "scheduler_config.json").is_file():
            scheduler = DDIMScheduler.from_pretrained(folder, subfolder="scheduler")
        else:
            logger.warning("%s has no scheduler/scheduler_config.json; using DDPM's linear schedule", folder)
        backbone = cls(unet, scheduler, perception_timestep, feature_layers)
        return backbone if device is None else backbone.to(device)

    def frozen_modules(self) -> dict[str, nn.Module]:
        return {"unet": self.unet}

    @property
    def latent_scale(self) -> int:
        return 1

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images Bx3xHxW in [-1, 1] -> the same images (clamped), on the backbone's device and dtype."""
        return images.to(self.device, self.dtype).clamp(-1.0, 1.0)

    def decode(self, sample: torch.Tensor) -> torch.Tensor:
        """Sample Bx3xHxW -> images in [-1, 1] (clamped)."""
        return sample.clamp(-1.0, 1.0)

    def encode_text(self, captions: list[str] | None) -> None:
        """Always None: the model is not text-conditioned (captions are ignored)."""
        return None

    def _forward_unet(
        self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor | None
    ) -> torch.Tensor:
        if cond is not None:
            raise ValueError("PixelBackbone is unconditional: pass cond=None (encode_text returns None)")
        return self.unet(noisy.to(self.device, self.dtype), timesteps).sample
