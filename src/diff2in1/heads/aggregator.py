"""Fuse the frozen UNet's multi-scale decoder features into one feature map (paper, section 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ResidualBlock, conv_norm_act


class FeatureAggregator(nn.Module):
    """Concatenate same-stride features, project each group with 1x1 convs and fuse them coarse to fine.

    Args:
        feature_channels: channels of each backbone feature map, in the order the backbone returns them
            (coarse to fine), e.g. ``[1280, 1280, 640, 320]`` for SD v1.5's up blocks.
        feature_strides: downsampling factor of each map relative to the input image, same order,
            e.g. ``[32, 16, 8, 8]`` for SD v1.5 or ``[8, 4, 2, 1]`` for a pixel-space UNet.
        out_channels: channels of the fused map.

    Attributes:
        strides: the distinct strides, coarse to fine (one projection per stride).
        out_stride: stride of the output (the smallest input stride).
    """

    def __init__(
        self, feature_channels: list[int], feature_strides: list[int], out_channels: int = 128
    ) -> None:
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
        self.feature_channels = [int(c) for c in feature_channels]
        self.feature_strides = [int(s) for s in feature_strides]
        self.out_channels = int(out_channels)
        self.strides = sorted(set(self.feature_strides), reverse=True)
        self.out_stride = self.strides[-1]
        # Indices of the input maps in each stride group, in their input order (that fixes the concat order).
        self.groups: list[list[int]] = [
            [i for i, s in enumerate(self.feature_strides) if s == stride] for stride in self.strides
        ]
        self.projections = nn.ModuleList(
            conv_norm_act(sum(self.feature_channels[i] for i in group), self.out_channels, kernel_size=1)
            for group in self.groups
        )
        self.fusions = nn.ModuleList(ResidualBlock(self.out_channels) for _ in self.groups)

    def check_features(self, features: list[torch.Tensor]) -> None:
        """Raise ValueError if ``features`` do not match the channels this aggregator was built for."""
        found = [int(f.shape[1]) if f.ndim == 4 else tuple(f.shape) for f in features]
        if found != self.feature_channels:
            raise ValueError(
                f"FeatureAggregator: expected {len(self.feature_channels)} BxCxhxw feature maps with channels "
                f"{self.feature_channels}, found {found}; build the model with the backbone's feature_channels"
            )

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Fuse backbone features.

        Args:
            features: list of BxC_ixh_ixw_i tensors, ``h_i = H / feature_strides[i]`` (any float dtype).

        Returns:
            B x out_channels x (H / out_stride) x (W / out_stride), the spatial size of the finest map.
        """
        self.check_features(features)
        fused: torch.Tensor | None = None
        for group, projection, fusion in zip(self.groups, self.projections, self.fusions):
            x = projection(torch.cat([features[i] for i in group], dim=1))
            if fused is not None:
                # Resize to the finer map's actual size (not a scale factor) so odd image sizes still line up.
                x = x + F.interpolate(fused, size=x.shape[-2:], mode="bilinear", align_corners=False)
            fused = fusion(x)
        assert fused is not None
        return fused
