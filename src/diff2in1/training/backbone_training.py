"""What of the diffusion backbone a head-training run trains: nothing (frozen, cached features), LoRA or all.

A trained UNet cannot be served from a feature cache (its features change every step), so such a run
streams: each step's images go through the UNet with gradients. The UNet's trained weights join the
optimizer as their own parameter group (``--backbone-lr-scale`` of ``--lr`` for ``full``). Under
``accelerate launch`` their gradients are averaged over processes before the step, as DDP averages the
heads'; every process starts from the same weights (the adapters' initial draw is seeded by ``--seed``).
"""

from __future__ import annotations

from typing import Any

from ..backbones.adapters import TrainedUNet


def warmup_settings(config: Any) -> dict[str, Any]:
    """The trained-UNet settings a warm-up config asks for (``attach_trained_unet``'s ``settings``)."""
    if config.train_backbone == "lora":
        return {"mode": "lora", "rank": config.lora_rank, "alpha": config.lora_alpha, "targets": list(config.lora_targets)}
    return {"mode": config.train_backbone}


def param_groups(trained: TrainedUNet | None, lr: float, lr_scale: float) -> list[dict[str, Any]]:
    """The optimizer group of the UNet's trained weights (none when nothing trains)."""
    if trained is None:
        return []
    return [{"params": trained.parameters(), "lr": lr * (lr_scale if trained.mode == "full" else 1.0)}]


def average_gradients(trained: TrainedUNet | None, accelerator) -> None:
    """Average the trained UNet weights' gradients over processes (DDP does so for the heads)."""
    if trained is None or accelerator.num_processes == 1:
        return
    for param in trained.parameters():
        if param.grad is not None:
            param.grad = accelerator.reduce(param.grad, reduction="mean")
