"""Exponential moving average of a module's parameters (the pretrain EMA and Diff-2-in-1's θC)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMA:
    """Keeps ``shadow`` = decay * shadow + (1 - decay) * live, applied every ``every`` calls of update().

    The shadow is a frozen deep copy of the live module, so it can run forward passes itself (θC labels
    synthetic samples with it) and be saved like any module. With ``warmup`` the keep rate starts low and
    rises as min(decay, (1 + n) / (10 + n)) at blend n = 0, 1, ... (Mean Teacher's ramp, as diffusers'
    EMAModel), so the average forgets the initial weights sooner; off by default.

    The call counter decides when blends happen (and the warm-up rate), so a resumed run needs it:
    ``state_dict()`` / ``load_state_dict()`` carry it in the train state (diffusers keeps
    ``optimization_step`` the same way).
    """

    def __init__(self, model: nn.Module, decay: float = 0.998, every: int = 1, warmup: bool = False):
        if not 0.0 <= decay <= 1.0 or every < 1:
            raise ValueError(f"EMA: need 0 <= decay <= 1 and every >= 1, got decay={decay}, every={every}")
        self.decay, self.every, self.warmup = decay, every, warmup
        self.calls = 0
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        """The keep rate of the blend made at the present call count."""
        if not self.warmup:
            return self.decay
        blends = self.calls // self.every - 1
        return min(self.decay, (1 + blends) / (10 + blends))

    @torch.no_grad()
    def update(self, model: nn.Module) -> bool:
        """Count one training step; blend the live weights in when the interval is reached."""
        self.calls += 1
        if self.calls % self.every:
            return False
        weight = 1.0 - self.current_decay()
        live = dict(model.named_parameters())
        for name, shadow in self.shadow.named_parameters():
            shadow.lerp_(live[name].detach().to(shadow.dtype), weight)
        live_buffers = dict(model.named_buffers())
        for name, buffer in self.shadow.named_buffers():
            buffer.copy_(live_buffers[name])
        return True

    def state_dict(self) -> dict[str, Any]:
        """The counter and settings (JSON-able); the shadow's weights are saved as a module."""
        return {"calls": self.calls, "decay": self.decay, "every": self.every, "warmup": self.warmup}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counter; a changed interval or rate is allowed (the new value applies from now on)."""
        self.calls = int(state["calls"])
