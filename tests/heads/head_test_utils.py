"""Helpers for the head tests: random backbone features and a tiny fitting loop."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def random_features(
    channels: list[int], strides: list[int], image_size: tuple[int, int], batch: int = 2, seed: int = 0
) -> list[torch.Tensor]:
    """Bx C_i x ceil(H / s_i) x ceil(W / s_i) random maps, as a UNet decoder would give (coarse to fine)."""
    gen = torch.Generator().manual_seed(seed)
    h, w = image_size
    return [
        torch.randn(batch, c, math.ceil(h / s), math.ceil(w / s), generator=gen)
        for c, s in zip(channels, strides)
    ]


def fit(
    loss_fn: Callable[[], torch.Tensor], params, steps: int = 50, lr: float = 1e-2
) -> tuple[float, float]:
    """Run Adam on ``loss_fn`` for ``steps`` steps; return (first loss, last loss)."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses[0], losses[-1]
