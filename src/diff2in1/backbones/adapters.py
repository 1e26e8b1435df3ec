"""The trained part of a backbone's UNet: LoRA adapters through peft (diffusers' adapter API) or every weight.

    trained = TrainedUNet(backbone, "lora", rank=8, alpha=8)    # or "full"; "none" trains nothing
    optimizer groups: trained.parameters()
    trained.state_dict() / trained.load_state_dict(tensors)     # peft's adapter state dict (lora) or the UNet (full)
    with trained.weights(theta_c_tensors): ...                  # run the UNet with other trained weights
    with trained.untouched(): ...                               # run the pretrained generator (creation)

A LoRA adapter is added with ``unet.add_adapter`` (peft's ``LoraConfig``); UNets without diffusers' adapter
mixin (``UNet2DModel``, the pixel backbones) are given it, since the mixin only needs a module. ``untouched``
disables the adapters (lora) or swaps the pretrained weights back in (full: they are kept on the CPU).
``base_fingerprint`` is the backbone's fingerprint before anything was trained: checkpoints name it beside
``fingerprint()``, the hash of the trained weights.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from diffusers.loaders.peft import PeftAdapterMixin
from torch import nn

from .base import DiffusionBackbone
from .fingerprint import fingerprint_modules

ADAPTER = "perception"
# Attention projections and the ResNet convolutions: every block's way to change its output.
DEFAULT_LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "conv1", "conv2")


class _Tensors(nn.Module):
    """Named tensors as a module (safetensors saving, EMA), the names' dots kept in a side table."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self.names = list(tensors)
        for index, value in enumerate(tensors.values()):
            self.register_parameter(f"p{index}", value if isinstance(value, nn.Parameter) else nn.Parameter(value))

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, f"p{index}") for index, name in enumerate(self.names)}


def _with_adapter_mixin(unet: nn.Module) -> nn.Module:
    """``unet`` with diffusers' ``PeftAdapterMixin`` (add_adapter, enable/disable_adapters) if it lacks it."""
    if not isinstance(unet, PeftAdapterMixin):
        unet.__class__ = type(type(unet).__name__, (type(unet), PeftAdapterMixin), {})
    return unet


class TrainedUNet:
    """What of the backbone's UNet trains, and how to save, swap and set it aside; see the module docstring.

    Args:
        backbone: the backbone whose UNet trains (its other models stay frozen).
        mode: ``lora`` (rank-``rank`` adapters on ``targets``, scaled by ``alpha / rank``) or ``full``.
        gradient_checkpointing: recompute the UNet's activations in backward (less memory, ~30% slower).
    """

    def __init__(self, backbone: DiffusionBackbone, mode: str, rank: int = 8, alpha: float = 8.0,
                 targets: Sequence[str] = DEFAULT_LORA_TARGETS, gradient_checkpointing: bool = False):
        if mode not in ("lora", "full"):
            raise ValueError(f"--train-backbone {mode!r}: a trained UNet is 'lora' or 'full' ('none' trains none)")
        self.backbone, self.mode = backbone, mode
        self.rank, self.alpha, self.targets = int(rank), float(alpha), list(targets)
        self.base_fingerprint = backbone.fingerprint()
        unet = backbone.unet
        if mode == "lora":
            self._add_lora(unet)
            self._base: dict[str, torch.Tensor] | None = None
        else:
            self._base = {k: v.detach().to("cpu", copy=True) for k, v in unet.state_dict().items()}
            unet.requires_grad_(True)
        if gradient_checkpointing:
            unet.enable_gradient_checkpointing()
        self.module = _Tensors(self._live())
        backbone.trained = self

    def _add_lora(self, unet: nn.Module) -> None:
        from peft import LoraConfig

        names = [name for name, _ in unet.named_modules()]  # peft matches a target as a name's suffix
        if not any(n == t or n.endswith("." + t) for n in names for t in self.targets):
            raise ValueError(f"--lora-targets {self.targets}: no module of the {type(unet).__name__} is named so; "
                             f"use names as in unet.named_modules(), e.g. {list(DEFAULT_LORA_TARGETS)}")
        config = LoraConfig(r=self.rank, lora_alpha=self.alpha, target_modules=self.targets,
                            init_lora_weights="gaussian")
        _with_adapter_mixin(unet).add_adapter(config, adapter_name=ADAPTER)

    def _live(self) -> dict[str, nn.Parameter]:
        """The UNet's trained parameters under their state-dict names (peft's for the adapters: without the
        adapter's name, as ``get_peft_model_state_dict`` gives them; the UNet's own for ``full``)."""
        params = dict(self.backbone.unet.named_parameters())
        if self.mode == "lora":
            return {peft_name(name): p for name, p in params.items() if "lora_" in name}
        return params

    def parameters(self) -> list[nn.Parameter]:
        return list(self.module.parameters())

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The trained weights (what a checkpoint keeps): peft's adapter state dict, or the whole UNet's."""
        if self.mode == "lora":
            from peft import get_peft_model_state_dict

            return {k: v.detach() for k, v in get_peft_model_state_dict(self.backbone.unet, adapter_name=ADAPTER).items()}
        return {name: p.detach() for name, p in self._live().items()}

    def _matching(self, tensors: dict[str, torch.Tensor], where: str) -> dict[str, nn.Parameter]:
        """The live trained parameters, once ``tensors`` is known to name exactly them."""
        live = self._live()
        missing, unexpected = sorted(set(live) - set(tensors)), sorted(set(tensors) - set(live))
        if missing or unexpected:
            raise ValueError(f"{where}: do not match this UNet's {self.mode} weights (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]}); were they trained with other --lora-rank/-targets?")
        return live

    @torch.no_grad()
    def load_state_dict(self, tensors: dict[str, torch.Tensor], where: str = "trained weights") -> None:
        """Set the trained weights from ``state_dict()``'s tensors (missing or unexpected names fail)."""
        tensors = peft_names(tensors)
        live = self._matching(tensors, where)
        if self.mode == "lora":
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(self.backbone.unet, tensors, adapter_name=ADAPTER)
            return
        for name, param in live.items():
            param.copy_(tensors[name].to(param.dtype))

    @contextmanager
    def weights(self, tensors: dict[str, torch.Tensor], where: str = "trained weights") -> Iterator[None]:
        """Run the UNet with ``tensors`` as its trained weights for the block, then restore the live ones.

        The parameters point at ``tensors`` for the block instead of copying them in and out: a fully
        trained Stable Diffusion UNet is 3.4 GB, swapped twice a step when θC labels. Nothing may train
        inside the block.
        """
        tensors = peft_names(tensors)
        live = self._matching(tensors, where)
        saved = {name: param.data for name, param in live.items()}
        try:
            for name, param in live.items():
                param.data = tensors[name].detach().to(device=param.device, dtype=param.dtype)
            yield
        finally:
            for name, param in live.items():
                param.data = saved[name]

    @contextmanager
    def untouched(self) -> Iterator[None]:
        """The pretrained UNet for the block: adapters disabled (lora) or the pretrained weights swapped in."""
        if self._base is None:
            self.backbone.unet.disable_adapters()
            try:
                yield
            finally:
                self.backbone.unet.enable_adapters()
        else:
            with self.weights(self._base):
                yield

    def fingerprint(self) -> str:
        """A short hash of the trained weights (with the mode and LoRA settings)."""
        return fingerprint_modules({"trained": self.module}, self.settings())

    def settings(self) -> dict[str, Any]:
        if self.mode == "lora":
            return {"mode": "lora", "rank": self.rank, "alpha": self.alpha, "targets": self.targets}
        return {"mode": "full"}

    def describe(self) -> dict[str, Any]:
        """What a checkpoint records: the mode and settings, the base weights' and the trained weights' hashes."""
        return {**self.settings(), "base_fingerprint": self.base_fingerprint, "fingerprint": self.fingerprint()}


def peft_name(name: str) -> str:
    """An adapter parameter's name as peft's state dicts write it: without the adapter's name."""
    return name.replace(f".{ADAPTER}.", ".")


def peft_names(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` under peft's names (checkpoints written before they were saved with peft kept the adapter's name)."""
    return {peft_name(name): value for name, value in tensors.items()}


def attach_trained_unet(backbone: DiffusionBackbone, settings: dict[str, Any], seed: int = 0,
                        gradient_checkpointing: bool = False) -> TrainedUNet | None:
    """The backbone's UNet made trainable as ``settings`` say (``mode``: none, lora, full; ``rank``,
    ``alpha``, ``targets`` for lora); None for ``none``. The adapters' random start is seeded by ``seed``."""
    mode = settings.get("mode", "none")
    if mode == "none":
        return None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TrainedUNet(backbone, mode, rank=settings.get("rank", 8), alpha=settings.get("alpha", 8.0),
                           targets=settings.get("targets") or DEFAULT_LORA_TARGETS,
                           gradient_checkpointing=gradient_checkpointing)
