"""What every task head shares: the upsampling decoder, mask handling and the head interface."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .aggregator import Fused, as_fused
from .blocks import conv_norm_act


class UpsampleDecoder(nn.Module):
    """3x3 conv at the coarse resolution -> 1x1 to ``mid_channels`` -> add the detail map -> per-pixel MLP.

    The coarse map is upsampled to the detail map's size (when the aggregator made one) and the MLP's
    output to the image size, both bilinearly. Only 1x1 convs run at fine resolution, so the head's
    cost stays small next to the UNet's.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        super().__init__()
        self.mid_channels = default_mid_channels(in_channels) if mid_channels is None else int(mid_channels)
        mid = self.mid_channels
        self.before = nn.Sequential(conv_norm_act(in_channels, in_channels), nn.Conv2d(in_channels, mid, 1))
        self.after = nn.Sequential(nn.SiLU(), nn.Conv2d(mid, mid, 1), nn.SiLU(), nn.Conv2d(mid, out_channels, 1))

    def forward(self, fused: Fused | torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        """``Fused`` (or a bare B x in_channels x h x w map) -> B x out_channels x H x W, (H, W) = ``out_size``."""
        coarse, detail = as_fused(fused)
        x = self.before(coarse)
        if detail is not None:
            if detail.shape[1] != self.mid_channels:
                raise ValueError(f"UpsampleDecoder: detail map has {detail.shape[1]} channels, the head expects "
                                 f"mid_channels={self.mid_channels}; build the aggregator with detail_channels="
                                 f"{self.mid_channels}")
            x = F.interpolate(x, size=detail.shape[-2:], mode="bilinear", align_corners=False) + detail
        x = self.after(x)
        if tuple(x.shape[-2:]) != tuple(out_size):
            x = F.interpolate(x, size=tuple(out_size), mode="bilinear", align_corners=False)
        return x


def default_mid_channels(in_channels: int) -> int:
    """Width of the heads' fine-resolution part (and of the aggregator's detail map)."""
    return max(in_channels // 4, 16)


def check_mask(mask: torch.Tensor, like: torch.Tensor, where: str) -> torch.Tensor:
    """Return ``mask`` as a BxHxW bool tensor on ``like``'s device, or raise if its shape does not match.

    ``like`` is any BxCxHxW or BxHxW tensor whose batch and spatial size the mask must have.
    """
    expected = (like.shape[0], *like.shape[-2:])
    if mask.ndim == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if tuple(mask.shape) != tuple(expected):
        raise ValueError(f"{where}: mask must be BxHxW {tuple(expected)}, found {tuple(mask.shape)}")
    return mask.to(device=like.device, dtype=torch.bool)


def zero_loss(pred: torch.Tensor) -> torch.Tensor:
    """A scalar 0 that is still connected to the graph, for batches with no valid pixel."""
    return pred.sum() * 0.0


class TaskHead(nn.Module):
    """Interface of a task head. Subclasses set ``task`` and implement the methods below.

    ``forward(fused, out_size)`` returns a dict of BxCxHxW (or BxHxW) tensors at the image size.
    """

    task: str = ""

    def loss(self, pred: dict[str, torch.Tensor], target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Scalar loss, mean over pixels where ``mask`` (BxHxW bool) is True; 0 with grad if there are none."""
        raise NotImplementedError

    def default_mask(self, target: torch.Tensor) -> torch.Tensor:
        """BxHxW bool validity of a ground truth by the data-set encoding (used when a batch has no mask)."""
        raise NotImplementedError

    def target_from_pred(self, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """The label a synthetic sample would use, in the ground-truth format, detached from the graph."""
        raise NotImplementedError

    def confidence(self, pred: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """BxHxW per-pixel confidence in [0, inf), higher = more confident; None if the head has none."""
        return None

    def to_picture(self, pred: dict[str, torch.Tensor]) -> np.ndarray:
        """BxHxWx3 uint8 picture of the prediction."""
        raise NotImplementedError

    def average_with_mirror(self, pred: dict[str, torch.Tensor], mirrored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Merge a prediction with the prediction on the horizontally mirrored image (a flip ensemble)."""
        raise NotImplementedError
