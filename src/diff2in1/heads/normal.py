"""Surface-normal head with aleatoric uncertainty (Bae et al., ICCV 2021), as in the Diff-2-in-1 release."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..tasks import NORMAL
from .aggregator import Fused
from .base import TaskHead, UpsampleDecoder, check_mask, zero_loss
from .pictures import normal_to_rgb

COS_CLAMP = 0.999999  # keeps acos and its gradient finite when pred and gt (anti)align exactly


def angular_vmf_nll(pred_normal: torch.Tensor, kappa: torch.Tensor, gt_normal: torch.Tensor) -> torch.Tensor:
    """Per-pixel angular von-Mises-Fisher negative log-likelihood of Bae et al.

    NLL = -log(kappa^2 + 1) + kappa * theta + log(1 + exp(-kappa * pi)), theta = angle(pred, gt) in radians.

    Args:
        pred_normal: ...x3 unit normals (the last dimension holds the components).
        kappa: ... concentrations > 0 (same leading shape, no component dimension).
        gt_normal: ...x3 unit normals.

    Returns:
        ... per-pixel NLL (can be negative; lower is better).
    """
    cos = (pred_normal * gt_normal).sum(dim=-1).clamp(-COS_CLAMP, COS_CLAMP)
    theta = torch.acos(cos)
    # log1p forms are exact where kappa is small; exp(-kappa*pi) <= 1 since kappa > 0, so no overflow.
    return -torch.log1p(kappa.square()) + kappa * theta + torch.log1p(torch.exp(-kappa * math.pi))


class NormalHead(TaskHead):
    """Predicts a unit normal and a concentration kappa per pixel.

    ``forward`` returns ``normal`` (Bx3xHxW, unit length, camera coordinates as in the data set) and
    ``kappa`` (Bx1xHxW, >= ``min_kappa``; higher = more confident). kappa = softplus(x) + min_kappa.

    The loss is the angular vMF NLL over all valid pixels. Bae et al.'s uncertainty-guided pixel
    sampling is not done: it selects the pixels their MLP refinement stages run on, and this head
    has no such stages (it predicts densely at the image size), so every valid pixel counts equally.

    Args:
        in_channels: channels of the fused feature map.
        mid_channels: channels of the fine-resolution part (default max(in_channels // 4, 16)).
        min_kappa: lower bound of kappa, keeps the NLL's gradient bounded on hard pixels.
    """

    task = NORMAL

    def __init__(
        self, *, in_channels: int = 128, mid_channels: int | None = None, min_kappa: float = 0.01
    ) -> None:
        super().__init__()
        self.min_kappa = float(min_kappa)
        self.decoder = UpsampleDecoder(in_channels, 4, mid_channels)

    def forward(self, fused: Fused | torch.Tensor, out_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """B x in_channels x h x w -> {"normal": Bx3xHxW unit, "kappa": Bx1xHxW > 0}, (H, W) = out_size."""
        out = self.decoder(fused, out_size)
        normal = F.normalize(out[:, :3], dim=1, eps=1e-6)
        kappa = F.softplus(out[:, 3:]) + self.min_kappa
        return {"normal": normal, "kappa": kappa}

    def loss(self, pred: dict[str, torch.Tensor], target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean angular vMF NLL over valid pixels.

        Args:
            pred: output of ``forward``.
            target: Bx3xHxW ground-truth normals (re-normalised here; invalid pixels may hold anything).
            mask: BxHxW bool, True = valid.
        """
        mask = check_mask(mask, pred["normal"], "NormalHead.loss")
        if not mask.any():
            return zero_loss(pred["normal"]) + zero_loss(pred["kappa"])
        # Select valid pixels before any arithmetic so that NaN/garbage at invalid pixels cannot leak in.
        n = pred["normal"].float().permute(0, 2, 3, 1)[mask]
        k = pred["kappa"].float()[:, 0][mask]
        gt = F.normalize(target.to(n.device).float().permute(0, 2, 3, 1)[mask], dim=-1, eps=1e-6)
        return angular_vmf_nll(n, k, gt).mean()

    def default_mask(self, target: torch.Tensor) -> torch.Tensor:
        """Valid where the ground-truth normal is not all-zero (the NYUv2 encoding of 'no label')."""
        return target.abs().sum(dim=1) > 0

    def target_from_pred(self, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """Bx3xHxW unit normals, detached."""
        return pred["normal"].detach()

    def confidence(self, pred: dict[str, torch.Tensor]) -> torch.Tensor:
        """BxHxW kappa, detached."""
        return pred["kappa"].detach()[:, 0]

    def average_with_mirror(self, pred: dict[str, torch.Tensor], mirrored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Mean of the two unit normals (the mirror's x negated back), re-normalised; mean kappa."""
        back = mirrored["normal"].flip(-1)
        back = torch.cat([-back[:, :1], back[:, 1:]], dim=1)
        return {"normal": F.normalize(pred["normal"] + back, dim=1, eps=1e-6),
                "kappa": (pred["kappa"] + mirrored["kappa"].flip(-1)) / 2}

    def to_picture(self, pred: dict[str, torch.Tensor]) -> np.ndarray:
        """BxHxWx3 uint8, rgb = (n + 1) / 2 * 255."""
        return normal_to_rgb(pred["normal"])
