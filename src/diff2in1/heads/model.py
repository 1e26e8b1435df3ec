"""The trained part of the perception model: one shared feature aggregator and one head per task."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import FrozenDict
from torch import nn

from ..tasks import DEPTH, EDGE, HUMAN_PARTS, NORMAL, SALIENCY, SEMSEG, check_tasks
from .aggregator import FeatureAggregator
from .base import TaskHead, default_mid_channels
from .depth import DepthHead
from .edge import EdgeHead
from .human_parts import HumanPartsHead
from .normal import NormalHead
from .saliency import SaliencyHead
from .segmentation import SegmentationHead
from .weighting import LOSS_WEIGHTINGS, LossWeighting


def _checked_tasks(tasks: list[str], num_classes: int | None, loss_weights: dict[str, float] | None) -> list[str]:
    """The task list, refused when it repeats a task, lacks num_classes for semseg or mismatches loss_weights."""
    tasks = check_tasks(tasks, where="PerceptionModel")
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"PerceptionModel: tasks {tasks} contain a duplicate")
    if SEMSEG in tasks and num_classes is None:
        raise ValueError("PerceptionModel: task 'semseg' needs num_classes (the data set's number of classes)")
    unknown = sorted(set(loss_weights or {}) - set(tasks))
    if unknown:
        raise ValueError(f"PerceptionModel: loss_weights name tasks {unknown} that are not in tasks {tasks}")
    return tasks


class ModelConfig(FrozenDict):
    """diffusers' frozen config (``model.config.tasks``) that can also be called: ``model.config()`` returns the
    constructor arguments as a plain dict, the form ``perception.json`` stores and ``from_config`` reads."""

    def __call__(self) -> dict[str, Any]:
        return copy.deepcopy({k: v for k, v in self.items() if not k.startswith("_")})


class PerceptionModel(ModelMixin, ConfigMixin):
    """Aggregator + task heads on top of frozen diffusion features (the only trained parameters).

    Args:
        feature_channels: channels of each backbone feature map, coarse to fine.
        feature_strides: downsampling factor of each map relative to the image, same order.
        tasks: task names from ``diff2in1.tasks`` ("normal", "depth", "semseg", "edge", "saliency",
            "human_parts").
        num_classes: number of segmentation classes; required with "semseg" (human parts have 7, fixed).
        channels: channels of the fused feature map.
        max_depth: largest depth the depth head can predict, metres.
        loss_weights: optional weight per task in the total loss (default: each task's ``TaskSpec.loss_weight``).
        loss_weighting: "fixed" (the weights above) or "uncertainty" (Kendall et al.'s learned log-variances,
            started at the fixed weights; see ``heads/weighting.py``).
        fuse_stride: the aggregator fuses feature maps of this stride and coarser with 3x3 convs; finer
            ones reach the heads through 1x1 projections only (1 = 3x3 convs at every stride, slow).

    A checkpoint is ``state_dict()`` (safetensors) plus ``config()`` (JSON); ``from_config`` rebuilds it. As a
    diffusers model it also round-trips a folder: ``save_pretrained(DIR)`` writes ``config.json`` and
    ``diffusion_pytorch_model.safetensors``, ``PerceptionModel.from_pretrained(DIR)`` reads them.
    """

    config_name = "config.json"

    def __init__(
        self,
        feature_channels: list[int],
        feature_strides: list[int],
        tasks: list[str],
        num_classes: int | None = None,
        channels: int = 128,
        max_depth: float = 10.0,
        loss_weights: dict[str, float] | None = None,
        fuse_stride: int = 4,
        loss_weighting: str = "fixed",
    ) -> None:
        super().__init__()
        self.tasks = _checked_tasks(tasks, num_classes, loss_weights)
        # Registered normalised (plain ints, floats, lists), so the JSON is the same whatever types came in.
        self.register_to_config(**{
            "feature_channels": [int(c) for c in feature_channels],
            "feature_strides": [int(s) for s in feature_strides],
            "tasks": list(self.tasks),
            "num_classes": None if num_classes is None else int(num_classes),
            "channels": int(channels),
            "max_depth": float(max_depth),
            "loss_weights": {t: float(w) for t, w in (loss_weights or {}).items()},
            "fuse_stride": int(fuse_stride),
            "loss_weighting": str(loss_weighting),
        })
        if loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(f"PerceptionModel: loss_weighting must be one of {LOSS_WEIGHTINGS}, got {loss_weighting!r}")
        self.weighting = LossWeighting(self.tasks, loss_weights, learned=loss_weighting == "uncertainty")
        self.loss_weights = self.weighting.fixed
        mid = default_mid_channels(channels)
        self.aggregator = FeatureAggregator(feature_channels, feature_strides, channels, fuse_stride, mid)
        self.heads = nn.ModuleDict(
            {t: self._make_head(t, channels, mid, num_classes, max_depth) for t in self.tasks}
        )

    @staticmethod
    def _make_head(task: str, channels: int, mid: int, num_classes: int | None, max_depth: float) -> TaskHead:
        if task == NORMAL:
            return NormalHead(in_channels=channels, mid_channels=mid)
        if task == DEPTH:
            return DepthHead(max_depth, in_channels=channels, mid_channels=mid)
        if task in (EDGE, SALIENCY):
            return (EdgeHead if task == EDGE else SaliencyHead)(in_channels=channels, mid_channels=mid)
        if task == HUMAN_PARTS:
            return HumanPartsHead(in_channels=channels, mid_channels=mid)
        assert task == SEMSEG and num_classes is not None
        return SegmentationHead(num_classes, in_channels=channels, mid_channels=mid)

    @property
    def config(self) -> ModelConfig:
        """The constructor arguments: read ``model.config.tasks``, or call ``model.config()`` for a plain dict."""
        return ModelConfig(self._internal_dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None, return_unused_kwargs: bool = False,
                    **kwargs: Any) -> PerceptionModel:
        """Build a model (untrained weights) from ``config()``'s output; load the state_dict afterwards.

        Unknown constructor arguments are refused (diffusers would drop them with a warning), so a config
        written by another version of the heads fails here rather than building a different model.
        """
        known = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = sorted(k for k in (config or {}) if not str(k).startswith("_") and k not in known)
        if unknown:
            raise TypeError(f"PerceptionModel config has unknown argument(s) {unknown}; expected some of "
                            f"{sorted(known)}")
        return super().from_config(dict(config or {}), return_unused_kwargs=return_unused_kwargs, **kwargs)

    def forward(
        self, features: list[torch.Tensor], out_size: tuple[int, int]
    ) -> dict[str, dict[str, torch.Tensor]]:
        """Predict every task from one pass of the shared aggregator.

        Args:
            features: backbone feature maps, BxC_ixh_ixw_i, coarse to fine as in ``feature_channels``.
            out_size: (H, W) of the image, pixels.

        Returns:
            {task: head output}, e.g. {"normal": {"normal", "kappa"}, "depth": {"depth"},
            "semseg": {"logits", "semseg"}}, all at H x W.
        """
        fused = self.aggregator(features)
        return {task: head(fused, out_size) for task, head in self.heads.items()}

    def loss(
        self, preds: dict[str, dict[str, torch.Tensor]], batch: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted sum of the task losses.

        Args:
            preds: output of ``forward``.
            batch: ground truth per task (``normal`` Bx3xHxW unit, ``depth`` Bx1xHxW metres, ``semseg`` and
                ``human_parts`` BxHxW int64, ``edge`` and ``saliency`` Bx1xHxW in [0, 1]) and optionally ``mask``: {task: BxHxW bool}; a task without a mask uses the
                encoding's validity (normal all-zero, depth 0, label 255 = invalid).

        Returns:
            (total loss, scalar tensor with grad; {task: unweighted loss, "total": total} as floats).
        """
        missing = [t for t in self.tasks if t not in batch]
        if missing:
            raise KeyError(
                f"PerceptionModel.loss: batch has no ground truth for task(s) {missing}; keys: {sorted(batch)}"
            )
        masks = batch.get("mask") or {}
        losses: dict[str, torch.Tensor] = {}
        for task, head in self.heads.items():
            target = batch[task]
            mask = masks.get(task)
            losses[task] = head.loss(preds[task], target, head.default_mask(target) if mask is None else mask)
        total = self.weighting(losses)
        logs = {task: float(loss.detach()) for task, loss in losses.items()}
        logs["total"] = float(total.detach())
        return total, logs

    def labels_from_preds(self, preds: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Detached labels in the ground-truth format: normal Bx3xHxW unit, depth Bx1xHxW m, semseg BxHxW int64."""
        return {task: head.target_from_pred(preds[task]) for task, head in self.heads.items()}

    def confidences(self, preds: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor | None]:
        """{task: BxHxW confidence in [0, inf), higher = more confident, or None}: kappa, None, max softmax."""
        return {task: head.confidence(preds[task]) for task, head in self.heads.items()}

    def predictions_for_metrics(self, preds: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """{"normal": Bx3xHxW, "depth": Bx1xHxW, "semseg" / "human_parts": BxHxW, "edge" / "saliency": Bx1xHxW
        probability} for the tasks of this model (detached)."""
        return self.labels_from_preds(preds)

    def average_with_mirror(self, preds: dict[str, dict[str, torch.Tensor]],
                            mirrored: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, torch.Tensor]]:
        """Every task's prediction merged with its prediction on the mirrored image (a flip ensemble)."""
        return {task: head.average_with_mirror(preds[task], mirrored[task]) for task, head in self.heads.items()}

    def pictures(self, preds: dict[str, dict[str, torch.Tensor]]) -> dict[str, np.ndarray]:
        """{task: BxHxWx3 uint8 picture of the prediction}."""
        return {task: head.to_picture(preds[task]) for task, head in self.heads.items()}
