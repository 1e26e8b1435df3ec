"""Trained part of the perception model: feature aggregator, task heads and pictures of their outputs."""

from .aggregator import FeatureAggregator, Fused
from .base import TaskHead
from .depth import DepthHead, silog_loss
from .model import PerceptionModel
from .normal import NormalHead, angular_vmf_nll
from .segmentation import SegmentationHead

__all__ = [
    "DepthHead",
    "FeatureAggregator",
    "Fused",
    "NormalHead",
    "PerceptionModel",
    "SegmentationHead",
    "TaskHead",
    "angular_vmf_nll",
    "silog_loss",
]
