"""Exponential moving average of a module's parameters (the pretrain EMA and Diff-2-in-1's θC)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow`` = decay * shadow + (1 - decay) * live, applied every ``every`` calls of update().

    The shadow is a frozen deep copy of the live module, so it can run forward passes itself (θC labels
    synthetic samples with it) and be saved like any module.
    """

    def __init__(self, model: nn.Module, decay: float = 0.998, every: int = 1, warmup: bool = False):
        if not 0.0 <= decay <= 1.0 or every < 1:
            raise ValueError(f"EMA: need 0 <= decay <= 1 and every >= 1, got decay={decay}, every={every}")
        self.decay = decay
        self.every = every
        self.calls = 0
        self.warmup = warmup  # Mean Teacher: keep rate min(decay, (1 + n) / (10 + n)) at blend n
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> bool:
        """Count one training step; blend the live weights in when the interval is reached."""
        self.calls += 1
        if self.calls % self.every:
            return False
        blends = self.calls // self.every - 1
        decay = min(self.decay, (1 + blends) / (10 + blends)) if self.warmup else self.decay
        live = dict(model.named_parameters())
        for name, shadow in self.shadow.named_parameters():
            shadow.lerp_(live[name].detach().to(shadow.dtype), 1.0 - decay)
        live_buffers = dict(model.named_buffers())
        for name, buffer in self.shadow.named_buffers():
            buffer.copy_(live_buffers[name])
        return True
