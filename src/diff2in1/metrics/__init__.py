"""Evaluation metrics of every task, as one-batch functions and as streaming accumulators.

Normals: angular error in degrees pooled over all valid pixels (Bae et al.). Depth: Eigen et al.'s
metrics per image, averaged over images. Segmentation: mean IoU and pixel accuracy from a confusion matrix.
Boundaries: odsF with a matching tolerance (BSDS). Saliency: maxF (beta^2 = 0.3) and mIoU at 0.5. Human
parts: mIoU over the part classes on images with people.
"""

from .depth import DEPTH_KEYS, MIN_DEPTH, DepthAccumulator, depth_metrics, per_image_depth_metrics
from .edge import EDGE_KEYS, EdgeAccumulator, edge_metrics
from .human_parts import HUMAN_PARTS_KEYS, HumanPartsAccumulator, human_parts_metrics
from .normal import (
    NORMAL_KEYS,
    NORMAL_THRESHOLDS,
    NormalAccumulator,
    angular_error_deg,
    exact_median,
    normal_metrics,
)
from .saliency import SALIENCY_KEYS, SaliencyAccumulator, saliency_metrics
from .segmentation import (
    SEGMENTATION_KEYS,
    SegmentationAccumulator,
    confusion_matrix,
    scores_from_confusion,
    segmentation_metrics,
)
from .streaming import Accumulator, compute_all, make_accumulators, update_from_batch

__all__ = [
    "DEPTH_KEYS",
    "EDGE_KEYS",
    "HUMAN_PARTS_KEYS",
    "SALIENCY_KEYS",
    "EdgeAccumulator",
    "HumanPartsAccumulator",
    "SaliencyAccumulator",
    "edge_metrics",
    "human_parts_metrics",
    "saliency_metrics",
    "MIN_DEPTH",
    "NORMAL_KEYS",
    "NORMAL_THRESHOLDS",
    "SEGMENTATION_KEYS",
    "Accumulator",
    "DepthAccumulator",
    "NormalAccumulator",
    "SegmentationAccumulator",
    "angular_error_deg",
    "compute_all",
    "confusion_matrix",
    "depth_metrics",
    "exact_median",
    "make_accumulators",
    "normal_metrics",
    "per_image_depth_metrics",
    "scores_from_confusion",
    "segmentation_metrics",
    "update_from_batch",
]
