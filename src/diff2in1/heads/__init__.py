"""Trained part of the perception model: feature aggregator, task heads, loss weighting and pictures."""

from .aggregator import FeatureAggregator, Fused
from .base import TaskHead
from .binary import BinaryHead
from .depth import DepthHead, silog_loss
from .edge import EdgeHead
from .human_parts import HumanPartsHead
from .model import PerceptionModel
from .normal import NormalHead, angular_vmf_nll
from .saliency import SaliencyHead
from .segmentation import SegmentationHead
from .weighting import LossWeighting

__all__ = [
    "BinaryHead",
    "DepthHead",
    "EdgeHead",
    "HumanPartsHead",
    "LossWeighting",
    "SaliencyHead",
    "FeatureAggregator",
    "Fused",
    "NormalHead",
    "PerceptionModel",
    "SegmentationHead",
    "TaskHead",
    "angular_vmf_nll",
    "silog_loss",
]
