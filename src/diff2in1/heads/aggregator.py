"""Fuse the frozen UNet's multi-scale decoder features (paper, section 1), cheaply enough to train on a CPU.

Features at strides >= ``fuse_stride`` are fused coarse to fine with 3x3 residual blocks; finer ones (a
pixel-space UNet's stride 2 and 1 maps) only go through 1x1 projections into a narrow ``detail`` map.
The 3x3 work then runs on (H/fuse_stride)^2 pixels instead of H^2: at full resolution it cost as much
as the UNet itself, and the frozen UNet is meant to dominate every stage (issue 7).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ResidualBlock, conv_norm_act


class Fused(NamedTuple):
    """The aggregator's output: ``coarse`` B x channels x h x w, ``detail`` B x detail_channels x h' x w' or None."""

    coarse: torch.Tensor
    detail: torch.Tensor | None = None


def as_fused(fused: Fused | torch.Tensor) -> Fused:
    """Accept a bare feature map (no detail path) wherever a ``Fused`` is expected."""
    return fused if isinstance(fused, Fused) else Fused(fused, None)


class FeatureAggregator(nn.Module):
    """Concatenate same-stride features, project each group with 1x1 convs and fuse them coarse to fine.

    Args:
        feature_channels: channels of each backbone feature map, in the order the backbone returns them
            (coarse to fine), e.g. ``[1280, 1280, 640, 320]`` for SD v1.5's up blocks.
        feature_strides: downsampling factor of each map relative to the input image, same order,
            e.g. ``[32, 16, 8, 8]`` for SD v1.5 or ``[8, 4, 2, 1]`` for a pixel-space UNet.
        out_channels: channels of the fused (coarse) map.
        fuse_stride: strides >= this are fused with 3x3 blocks; finer ones feed the detail map. With every
            stride below it, the coarsest group is fused alone. 1 = everything at full cost.
        detail_channels: channels of the detail map (the heads' ``mid_channels``).

    Attributes:
        strides: the fused strides, coarse to fine (one projection per stride).
        detail_strides: the finer strides that feed the detail map (may be empty).
        out_stride: stride of the coarse output; ``detail_stride``: of the detail map (None without one).
    """

    def __init__(self, feature_channels: list[int], feature_strides: list[int], out_channels: int = 128,
                 fuse_stride: int = 4, detail_channels: int = 16) -> None:
        super().__init__()
        if len(feature_channels) != len(feature_strides) or not feature_channels:
            raise ValueError(
                f"FeatureAggregator: feature_channels {list(feature_channels)} and feature_strides "
                f"{list(feature_strides)} must be non-empty and of the same length (one entry per feature map)"
            )
        if any(int(c) <= 0 for c in feature_channels) or any(int(s) <= 0 for s in feature_strides):
            raise ValueError(
                f"FeatureAggregator: channels {list(feature_channels)} and strides {list(feature_strides)} "
                "must be positive integers"
            )
        if int(fuse_stride) < 1 or int(detail_channels) < 1:
            raise ValueError(f"FeatureAggregator: fuse_stride ({fuse_stride}) and detail_channels "
                             f"({detail_channels}) must be >= 1")
        self.feature_channels = [int(c) for c in feature_channels]
        self.feature_strides = [int(s) for s in feature_strides]
        self.out_channels, self.detail_channels = int(out_channels), int(detail_channels)
        all_strides = sorted(set(self.feature_strides), reverse=True)
        self.strides = [s for s in all_strides if s >= int(fuse_stride)] or all_strides[:1]
        self.detail_strides = [s for s in all_strides if s not in self.strides]
        self.out_stride = self.strides[-1]
        self.detail_stride = self.detail_strides[-1] if self.detail_strides else None
        # Indices of the input maps in each stride group, in their input order (that fixes the concat order).
        self.groups = [self._group(s) for s in self.strides]
        self.detail_groups = [self._group(s) for s in self.detail_strides]
        self.projections = nn.ModuleList(
            conv_norm_act(self._group_channels(g), self.out_channels, kernel_size=1) for g in self.groups
        )
        self.fusions = nn.ModuleList(ResidualBlock(self.out_channels) for _ in self.groups)
        self.detail_projections = nn.ModuleList(
            nn.Conv2d(self._group_channels(g), self.detail_channels, 1) for g in self.detail_groups
        )

    def _group(self, stride: int) -> list[int]:
        return [i for i, s in enumerate(self.feature_strides) if s == stride]

    def _group_channels(self, group: list[int]) -> int:
        return sum(self.feature_channels[i] for i in group)

    def check_features(self, features: list[torch.Tensor]) -> None:
        """Raise ValueError if ``features`` do not match the channels this aggregator was built for."""
        found = [int(f.shape[1]) if f.ndim == 4 else tuple(f.shape) for f in features]
        if found != self.feature_channels:
            raise ValueError(
                f"FeatureAggregator: expected {len(self.feature_channels)} BxCxhxw feature maps with channels "
                f"{self.feature_channels}, found {found}; build the model with the backbone's feature_channels"
            )

    def forward(self, features: list[torch.Tensor]) -> Fused:
        """Fuse backbone features.

        Args:
            features: list of BxC_ixh_ixw_i tensors, ``h_i = H / feature_strides[i]`` (any float dtype).

        Returns:
            ``Fused(coarse, detail)``: coarse at the size of the finest fused map, detail (the sum of the
            finer maps' projections) at the size of the finest map, or None when no map is finer.
        """
        self.check_features(features)
        fused = _coarse_to_fine(features, self.groups, self.projections, self.fusions)
        assert fused is not None
        return Fused(fused, _coarse_to_fine(features, self.detail_groups, self.detail_projections))


def _coarse_to_fine(features: list[torch.Tensor], groups: list[list[int]], projections: nn.ModuleList,
                    fusions: nn.ModuleList | None = None) -> torch.Tensor | None:
    """Project each stride group (coarse first), add the upsampled result so far, fuse; None without groups."""
    out: torch.Tensor | None = None
    for k, (group, projection) in enumerate(zip(groups, projections)):
        x = projection(torch.cat([features[i] for i in group], dim=1))
        if out is not None:
            # Resize to the finer map's actual size (not a scale factor) so odd image sizes still line up.
            x = x + F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        out = fusions[k](x) if fusions is not None else x
    return out
