"""Small convolution blocks shared by the feature aggregator and the task heads."""

from __future__ import annotations

import math

import torch
from torch import nn


def group_count(channels: int, max_groups: int = 32) -> int:
    """Number of GroupNorm groups for ``channels``: the largest divisor of it that is at most ``max_groups``.

    gcd keeps tiny test models (e.g. 8 channels) valid without a separate code path.
    """
    return math.gcd(channels, max_groups)


def conv_norm_act(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Conv (same padding, no bias: GroupNorm has one) -> GroupNorm -> SiLU. Keeps the spatial size."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.GroupNorm(group_count(out_channels), out_channels),
        nn.SiLU(),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 conv + GroupNorm layers with an identity skip: BxCxHxW -> BxCxHxW."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_norm_act(channels, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.GroupNorm(group_count(channels), channels),
        )
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))
