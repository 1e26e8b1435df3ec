"""Stable Diffusion (v1.x / v2.x) as a backbone: VAE latents, CLIP text conditioning, UNet2DConditionModel."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from torch import nn
from transformers import CLIPTextModel, CLIPTokenizer

from .base import DiffusionBackbone
from .text import PromptEncoder

SD_SUBFOLDERS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


class StableDiffusionBackbone(DiffusionBackbone):
    """Stable Diffusion behind the `DiffusionBackbone` interface.

    Features for SD v1.5 at 512x512 (default `feature_layers`, the four decoder blocks): channels
    ``[1280, 1280, 640, 320]``, strides ``[32, 16, 8, 8]``.

    Args:
        vae, unet, text_encoder, tokenizer: the pipeline's components.
        scheduler: any diffusers scheduler of the model; its config is turned into a ``DDIMScheduler``.
        perception_timestep, feature_layers: see `DiffusionBackbone`.
        text_cache_size: how many distinct captions' encodings to keep.
    """

    takes_text = True

    def __init__(
        self,
        vae: AutoencoderKL,
        unet: UNet2DConditionModel,
        text_encoder: CLIPTextModel,
        tokenizer: CLIPTokenizer,
        scheduler,
        perception_timestep: int = 0,
        feature_layers: Sequence[str] | None = None,
        text_cache_size: int = 256,
    ) -> None:
        if unet.config.get("addition_embed_type") is not None:
            raise ValueError(
                f"this UNet needs extra conditioning (addition_embed_type={unet.config.addition_embed_type!r}, "
                "e.g. SDXL); StableDiffusionBackbone supports SD v1.x/v2.x"
            )
        super().__init__(
            unet, DDIMScheduler.from_config(scheduler.config), perception_timestep, feature_layers
        )
        self.vae = vae
        self.text = PromptEncoder(tokenizer, text_encoder, text_cache_size)
        self._freeze()

    # ----------------------------------------------------------------- loading

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        perception_timestep: int = 0,
        feature_layers: Sequence[str] | None = None,
        text_cache_size: int = 256,
        **load_kwargs,
    ) -> StableDiffusionBackbone:
        """Load from a diffusers-layout folder (unet/, vae/, text_encoder/, tokenizer/, scheduler/) or a hub id.

        Args:
            path: the folder (or a Hugging Face Hub id such as ``stable-diffusion-v1-5/stable-diffusion-v1-5``).
            device, dtype: where and in which precision to put the models (default: CPU, float32).
            load_kwargs: passed to each ``from_pretrained`` (e.g. ``variant="fp16"``, ``local_files_only=True``).
        """
        folder = Path(path)
        if folder.is_dir():
            missing = [name for name in SD_SUBFOLDERS if not (folder / name).is_dir()]
            if missing:
                raise FileNotFoundError(
                    f"{folder} is not a complete Stable Diffusion folder: missing subfolders {missing} "
                    f"(expected {list(SD_SUBFOLDERS)}, as written by StableDiffusionPipeline.save_pretrained)"
                )
        dtype = dtype or torch.float32
        try:
            vae = AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=dtype, **load_kwargs)
            unet = UNet2DConditionModel.from_pretrained(
                path, subfolder="unet", torch_dtype=dtype, **load_kwargs
            )
            text_encoder = CLIPTextModel.from_pretrained(
                path, subfolder="text_encoder", dtype=dtype, **load_kwargs
            )
            tokenizer = CLIPTokenizer.from_pretrained(path, subfolder="tokenizer", **load_kwargs)
            scheduler = DDIMScheduler.from_pretrained(path, subfolder="scheduler", **load_kwargs)
        except (OSError, ValueError) as error:
            raise OSError(f"could not load a Stable Diffusion model from {path!s}: {error}") from error
        backbone = cls(
            vae,
            unet,
            text_encoder,
            tokenizer,
            scheduler,
            perception_timestep,
            feature_layers,
            text_cache_size,
        )
        return backbone if device is None else backbone.to(device)

    @classmethod
    def from_single_file(
        cls,
        path: str | os.PathLike,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        perception_timestep: int = 0,
        feature_layers: Sequence[str] | None = None,
        text_cache_size: int = 256,
        **load_kwargs,
    ) -> StableDiffusionBackbone:
        """Load an original (CompVis-layout) ``.safetensors`` / ``.ckpt`` checkpoint through diffusers.

        Pickled ``.ckpt`` files are read with ``weights_only=True``. diffusers needs the matching diffusers
        configs: offline, pass ``config=<a diffusers SD folder of the same version>`` in ``load_kwargs``.
        """
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"checkpoint file {file} does not exist")
        if file.suffix not in (".safetensors", ".ckpt"):
            raise ValueError(
                f"{file}: expected a .safetensors (preferred) or .ckpt Stable Diffusion checkpoint"
            )
        # The pipeline machinery is a slow import, needed only here.
        from diffusers import StableDiffusionPipeline

        try:
            pipeline = StableDiffusionPipeline.from_single_file(
                str(file), torch_dtype=dtype or torch.float32, safety_checker=None, **load_kwargs
            )
        except Exception as error:  # diffusers raises many types here; all mean "cannot use this file"
            raise OSError(
                f"could not load {file} as a single-file Stable Diffusion v1.x/v2.x checkpoint: {error}. "
                "If it is a valid checkpoint, pass config=<diffusers folder of the same SD version> (needed "
                "offline), or convert it to a diffusers folder and load that"
            ) from error
        backbone = cls(
            pipeline.vae,
            pipeline.unet,
            pipeline.text_encoder,
            pipeline.tokenizer,
            pipeline.scheduler,
            perception_timestep,
            feature_layers,
            text_cache_size,
        )
        return backbone if device is None else backbone.to(device)

    # ----------------------------------------------------------------- interface

    def frozen_modules(self) -> dict[str, nn.Module]:
        return {"unet": self.unet, "vae": self.vae, "text_encoder": self.text.text_encoder}

    @property
    def latent_scale(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images Bx3xHxW in [-1, 1] -> scaled VAE latent mean, Bx4x(H/s)x(W/s) (s = `latent_scale`)."""
        latent = self.vae.encode(images.to(self.device, self.dtype)).latent_dist.mode()
        shift = self.vae.config.get("shift_factor") or 0.0
        return (latent - shift) * self.vae.config.scaling_factor

    @torch.no_grad()
    def decode(self, sample: torch.Tensor) -> torch.Tensor:
        """Scaled latent Bx4xhxw -> images Bx3x(h*s)x(w*s) in [-1, 1]."""
        shift = self.vae.config.get("shift_factor") or 0.0
        latent = sample.to(self.device, self.dtype) / self.vae.config.scaling_factor + shift
        return self.vae.decode(latent).sample.clamp(-1.0, 1.0)

    def encode_text(self, captions: list[str] | None) -> torch.Tensor:
        """Captions -> CLIP last hidden states BxLxD; None -> the empty prompt's, 1xLxD (cached)."""
        return self.text.empty() if captions is None else self.text(captions)

    def _forward_unet(
        self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor | None
    ) -> torch.Tensor:
        batch = noisy.shape[0]
        cond = self.text.empty() if cond is None else cond
        if cond.shape[0] not in (1, batch):
            raise ValueError(f"conditioning has batch {cond.shape[0]}, the sample {batch}; pass 1 or {batch}")
        cond = cond.to(self.device, self.dtype).expand(batch, -1, -1)
        return self.unet(noisy.to(self.device, self.dtype), timesteps, encoder_hidden_states=cond).sample

    def guided_output(
        self,
        noisy: torch.Tensor,
        timesteps: int | torch.Tensor,
        cond: torch.Tensor | None,
        uncond: torch.Tensor | None = None,
        scale: float = 1.0,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Classifier-free guidance in ONE UNet pass over the doubled batch [uncond; cond].

        Args:
            noisy: z_t, Bx4xhxw.
            timesteps: an int or (B,) tensor.
            cond: caption encodings (1 or B rows); None = empty prompt.
            uncond: the unconditional encodings (1 or B rows); None = empty prompt.
            scale: guidance scale w; output = uncond + w * (cond - uncond). At 1 (the paper's creation
                setting) only the conditional half is run.

        Returns:
            (guided output Bx4xhxw, the conditional half's features as in `unet_pass`).
        """
        if scale == 1.0:
            return self.unet_pass(noisy, timesteps, cond)
        batch = noisy.shape[0]
        cond = self.text.empty() if cond is None else cond
        uncond = self.text.empty() if uncond is None else uncond
        both = torch.cat([uncond.expand(batch, -1, -1), cond.expand(batch, -1, -1)])
        t = self._timesteps(timesteps, batch)
        output, features = self.unet_pass(torch.cat([noisy, noisy]), torch.cat([t, t]), both)
        out_uncond, out_cond = output.chunk(2)
        return out_uncond + scale * (out_cond - out_uncond), [f[batch:] for f in features]
