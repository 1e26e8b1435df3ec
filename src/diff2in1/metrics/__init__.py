"""Evaluation metrics for the three tasks, as one-batch functions and as streaming accumulators.

Normals: angular error in degrees pooled over all valid pixels (Bae et al.). Depth: Eigen et al.'s
metrics per image, averaged over images. Segmentation: mean IoU and pixel accuracy from a confusion matrix.
"""

from .depth import DEPTH_KEYS, MIN_DEPTH, DepthAccumulator, depth_metrics, per_image_depth_metrics
from .normal import (
    NORMAL_KEYS,
    NORMAL_THRESHOLDS,
    NormalAccumulator,
    angular_error_deg,
    exact_median,
    normal_metrics,
)
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
