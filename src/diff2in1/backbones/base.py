"""The interface every diffusion backbone offers: encode, noise, one UNet pass with decoder features, DDIM steps."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from diffusers import DDIMScheduler
from diffusers.utils.torch_utils import randn_tensor
from torch import nn

from .fingerprint import fingerprint_modules


class DiffusionBackbone(nn.Module, ABC):
    """A frozen diffusion model behind one interface (paper, section 1): features for perception, steps for creation.

    Subclasses own a diffusers UNet (``self.unet``) and implement `encode`, `decode`, `encode_text` and
    `_forward_unet`. Every model the backbone holds is frozen (``requires_grad`` False, eval mode, also after
    ``backbone.train()``) until a trained part is attached to the UNet (``adapters.attach_trained_unet``:
    LoRA adapters or every weight; then ``trained`` holds it); ``.to(device, dtype)`` moves it like any module.

    Args:
        unet: the denoising network (``UNet2DConditionModel`` or ``UNet2DModel``).
        scheduler: a ``DDIMScheduler`` built from the model's training schedule.
        perception_timestep: the timestep t_p at which `extract_features` noises the input (the official
            release uses 0: one step of the forward process with the first beta).
        feature_layers: names of the UNet submodules whose outputs are returned as features, relative to the UNet
            (e.g. ``"up_blocks.1"`` or ``"up_blocks.1.attentions.2"``); default: every decoder block's output,
            coarse to fine.

    Attributes:
        feature_channels: channels of each returned feature map, in `feature_layers` order.
        feature_strides: downsampling of each feature map relative to the input *image* (a 64x64 map from a
            512x512 image through SD's /8 VAE has stride 8).
        sample_size: image side, in pixels, the model was trained at.
        takes_text: whether the UNet is conditioned on text.
    """

    takes_text: bool = False
    # The UNet's trained part (``adapters.TrainedUNet``: LoRA adapters or every weight), when one is attached.
    trained: Any = None

    def __init__(
        self,
        unet: nn.Module,
        scheduler: DDIMScheduler,
        perception_timestep: int = 0,
        feature_layers: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.unet = unet
        self.scheduler = scheduler
        self.num_train_timesteps = int(scheduler.config.num_train_timesteps)
        if not 0 <= int(perception_timestep) < self.num_train_timesteps:
            raise ValueError(
                f"perception_timestep must be in [0, {self.num_train_timesteps - 1}] (the scheduler's training "
                f"timesteps), got {perception_timestep}"
            )
        self.perception_timestep = int(perception_timestep)
        self._feature_spec: tuple[list[int], list[int]] | None = None
        default = [f"up_blocks.{i}" for i in range(len(unet.up_blocks))]
        self.feature_layers = list(feature_layers) if feature_layers is not None else default

    # ----------------------------------------------------------------- what subclasses provide

    @property
    @abstractmethod
    def latent_scale(self) -> int:
        """How many image pixels one model-space pixel covers (8 for SD's VAE, 1 in pixel space)."""

    @property
    def sample_size(self) -> int:
        """Image side, in pixels, the model was trained at (e.g. 512 for SD v1.5)."""
        return int(self.unet.config.sample_size) * self.latent_scale

    @abstractmethod
    def frozen_modules(self) -> dict[str, nn.Module]:
        """The pretrained models this backbone holds, by name (all frozen)."""

    @abstractmethod
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images Bx3xHxW in [-1, 1] -> model-space sample z0 (Bx4x(H/8)x(W/8) for SD; the images in pixel space)."""

    @abstractmethod
    def decode(self, sample: torch.Tensor) -> torch.Tensor:
        """Model-space sample -> images Bx3xHxW in [-1, 1] (clamped)."""

    @abstractmethod
    def encode_text(self, captions: list[str] | None) -> torch.Tensor | None:
        """Captions -> the UNet's conditioning (BxLxD), the empty prompt's when None; None if not text-conditioned."""

    @abstractmethod
    def _forward_unet(
        self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor | None
    ) -> torch.Tensor:
        """One UNet call returning its output (predicted noise, v or x0, as the scheduler config says)."""

    # ----------------------------------------------------------------- module plumbing

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    def _freeze(self) -> None:
        for module in self.frozen_modules().values():
            module.requires_grad_(False)
            module.eval()

    def train(self, mode: bool = True) -> DiffusionBackbone:
        """Set the training flag; the frozen models stay in eval mode (no dropout, fixed normalisation)."""
        super().train(mode)
        for module in self.frozen_modules().values():
            module.eval()
        return self

    # ----------------------------------------------------------------- features

    @property
    def feature_layers(self) -> list[str]:
        """Names of the UNet submodules whose outputs are the features, in the order they are returned."""
        return list(self._feature_layers)

    @feature_layers.setter
    def feature_layers(self, names: Sequence[str]) -> None:
        names = [str(name) for name in names]
        known = dict(self.unet.named_modules())
        missing = [name for name in names if name not in known]
        if missing or not names:
            blocks = [f"up_blocks.{i}" for i in range(len(self.unet.up_blocks))]
            raise ValueError(
                f"feature_layers {missing or '[]'} are not submodules of the {type(self.unet).__name__}; "
                f"use names as in unet.named_modules(), e.g. the decoder blocks {blocks}"
            )
        self._feature_layers = names
        self._feature_spec = None

    @contextmanager
    def capture_features(self) -> Iterator[list[torch.Tensor | None]]:
        """Register forward hooks on `feature_layers` for the duration of the block, removed on exit.

        Yields:
            a list, one slot per feature layer, filled with each layer's latest output during the block.
        """
        captured: list[torch.Tensor | None] = [None] * len(self.feature_layers)

        def hook_for(index: int):
            def hook(module: nn.Module, inputs: Any, output: Any) -> None:
                captured[index] = _first_tensor(output)

            return hook

        handles = []
        try:
            for index, name in enumerate(self.feature_layers):
                handles.append(self.unet.get_submodule(name).register_forward_hook(hook_for(index)))
            yield captured
        finally:
            for handle in handles:
                handle.remove()

    def unet_pass(
        self, noisy: torch.Tensor, timesteps: int | torch.Tensor, cond: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """ONE UNet forward returning its output and the decoder features.

        Args:
            noisy: model-space sample z_t, BxCxhxw.
            timesteps: an int, a 0-d tensor or a (B,) tensor of training timesteps in [0, num_train_timesteps).
            cond: conditioning from `encode_text` with batch 1 (broadcast) or B; None = the empty prompt.

        Returns:
            (model output BxCxhxw, features: one Bxc_ixh_ixw_i map per feature layer, see `feature_channels`
            and `feature_strides`). Gradients flow only if an input requires them (the weights are frozen).
        """
        timesteps = self._timesteps(timesteps, noisy.shape[0])
        with self.capture_features() as captured:
            output = self._forward_unet(noisy, timesteps, cond)
        missing = [name for name, f in zip(self.feature_layers, captured) if f is None]
        if missing:
            raise RuntimeError(
                f"feature layers {missing} did not run in the UNet forward; check feature_layers"
            )
        return output, list(captured)

    @torch.no_grad()
    def extract_features(
        self,
        images: torch.Tensor,
        timestep: int | None = None,
        captions: list[str] | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
    ) -> list[torch.Tensor]:
        """Perception features of images without gradients; see `perception_features`."""
        return self.perception_features(images, timestep, captions, generator)

    def perception_features(
        self,
        images: torch.Tensor,
        timestep: int | None = None,
        captions: list[str] | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
    ) -> list[torch.Tensor]:
        """Perception features of images (paper, section 1): encode, noise to t_p, one UNet pass.

        Gradients reach the UNet's trained weights (``adapters.TrainedUNet``) when grad mode is on; the
        encoder and text encoder always run without them.

        Args:
            images: Bx3xHxW in [-1, 1]; H and W multiples of the largest feature stride.
            timestep: the noise timestep; default `perception_timestep`.
            captions: B captions for text-conditioned models; None = the empty prompt.
            generator: makes the noise (hence the features) deterministic; a list gives one per image.

        Returns:
            one Bxc_ixH/s_ixW/s_i map per feature layer (c_i, s_i from `feature_channels`, `feature_strides`).
        """
        t = self.perception_timestep if timestep is None else int(timestep)
        with torch.no_grad():
            noisy = self.add_noise(self.encode(images), t, generator=generator)
            cond = self.encode_text(captions) if self.takes_text else None
        return self.unet_pass(noisy, t, cond)[1]

    @property
    def feature_channels(self) -> list[int]:
        """Channels of each feature map returned by `unet_pass` / `extract_features`."""
        return list(self._probe_features()[0])

    @property
    def feature_strides(self) -> list[int]:
        """Downsampling of each feature map relative to the input image (pixels per feature cell)."""
        return list(self._probe_features()[1])

    def _probe_features(self) -> tuple[list[int], list[int]]:
        """Channels and strides of the features, from one UNet pass on a small zero sample (once)."""
        if self._feature_spec is None:
            side = 2 ** len(self.unet.down_blocks)
            sample = torch.zeros(
                1, self.unet.config.in_channels, side, side, device=self.device, dtype=self.dtype
            )
            with torch.no_grad():
                cond = self.encode_text(None) if self.takes_text else None
                _, features = self.unet_pass(sample, 0, cond)
            image_side = side * self.latent_scale
            channels = [int(f.shape[1]) for f in features]
            strides = [image_side // int(f.shape[-1]) for f in features]
            self._feature_spec = (channels, strides)
        return self._feature_spec

    # ----------------------------------------------------------------- noise and DDIM

    def _timesteps(self, timesteps: int | torch.Tensor, batch: int) -> torch.Tensor:
        t = torch.as_tensor(timesteps, device=self.device).long().reshape(-1)
        if t.numel() == 1:
            t = t.expand(batch)
        if t.numel() != batch:
            raise ValueError(f"got {t.numel()} timesteps for a batch of {batch}; pass one or one per sample")
        return t

    def add_noise(
        self,
        sample: torch.Tensor,
        timesteps: int | torch.Tensor,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
    ) -> torch.Tensor:
        """Sample q(z_t | z_0): sqrt(abar_t) z_0 + sqrt(1 - abar_t) noise.

        Args:
            sample: z_0, BxCxhxw in model space.
            timesteps: an int or (B,) tensor of training timesteps.
            noise: standard normal noise like ``sample``; drawn (with ``generator``) when None.
            generator: seeds the drawn noise (a CPU generator works for any device); a list, one per sample.
        """
        if noise is None:
            noise = randn_tensor(sample.shape, generator=generator, device=sample.device, dtype=sample.dtype)
        return self.scheduler.add_noise(sample, noise, self._timesteps(timesteps, sample.shape[0]))

    def set_inference_steps(self, num_steps: int) -> torch.Tensor:
        """Set the DDIM schedule to ``num_steps`` steps; returns its timesteps, descending (e.g. 50 for creation)."""
        self.scheduler.set_timesteps(int(num_steps), device=self.device)
        return self.scheduler.timesteps

    def denoise_step(
        self,
        model_output: torch.Tensor,
        timestep: int | torch.Tensor,
        sample: torch.Tensor,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One DDIM step z_t -> z_{t-Δ} on the schedule set by `set_inference_steps`.

        Args:
            model_output: the UNet's output at (sample, timestep).
            timestep: the current timestep, one for the whole batch (an element of `scheduler.timesteps`).
            sample: z_t, BxCxhxw.
            eta: DDIM stochasticity (0 = deterministic, as in the paper's creation).
            generator: seeds the step's noise when eta > 0.
        """
        if self.scheduler.num_inference_steps is None:
            raise RuntimeError(
                "denoise_step needs a DDIM schedule: call backbone.set_inference_steps(n) first"
            )
        step = self.scheduler.step(model_output, timestep, sample, eta=eta, generator=generator)
        return step.prev_sample

    # ----------------------------------------------------------------- provenance

    def fingerprint(self) -> str:
        """A short stable hash of the models' configs and weights and of the feature settings.

        It changes when any config, weight, `feature_layers` or `perception_timestep` changes, and does not
        depend on the folder the models came from, the device, or a lossless dtype cast. Each weight tensor
        contributes its name, shape, a few elements verbatim and its sums (rounded, so that devices agree).

        With a trained part attached it stays the pretrained weights' hash (the trained part has its own,
        ``trained.fingerprint()``): it keys each image's identity and perception noise, which must not move
        as the part trains (exact resume, one process or several, evaluation reproducing training's), and
        no feature cache serves a trained UNet.
        """
        if self.trained is not None:
            return self.trained.base_fingerprint
        settings = {
            "scheduler": {k: v for k, v in self.scheduler.config.items() if not k.startswith("_")},
            "feature_layers": self.feature_layers,
            "perception_timestep": self.perception_timestep,
        }
        return fingerprint_modules(self.frozen_modules(), settings)


FEATURE_TAPS = ("decoder", "release")


def tap_layers(unet: nn.Module, taps: str) -> list[str]:
    """The UNet blocks whose outputs are the features: ``decoder`` (every up block, this project's default)
    or ``release`` (every down block, the middle block and every up block, as the official release taps)."""
    if taps not in FEATURE_TAPS:
        raise ValueError(f"feature taps '{taps}': choose from {list(FEATURE_TAPS)}")
    decoder = [f"up_blocks.{i}" for i in range(len(unet.up_blocks))]
    if taps == "decoder":
        return decoder
    return [f"down_blocks.{i}" for i in range(len(unet.down_blocks))] + ["mid_block"] + decoder


def _first_tensor(output: Any) -> torch.Tensor:
    """The hidden states in a module's output (a tensor, a tuple starting with one, or a diffusers output)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    if isinstance(getattr(output, "sample", None), torch.Tensor):
        return output.sample
    raise TypeError(f"cannot take a feature map from a module output of type {type(output).__name__}")
