"""Frozen diffusion models behind one interface (paper, section 1): features for perception, DDIM for creation."""

from .base import FEATURE_TAPS, DiffusionBackbone, tap_layers
from .embedded import embedded_backbone_path, load_embedded_backbone, verify_embedded_backbone
from .loading import BACKBONE_KINDS, detect_backbone_kind, load_backbone
from .pixel import PixelBackbone
from .stable_diffusion import StableDiffusionBackbone
from .text import PromptEncoder

__all__ = [
    "BACKBONE_KINDS",
    "FEATURE_TAPS",
    "DiffusionBackbone",
    "PixelBackbone",
    "PromptEncoder",
    "StableDiffusionBackbone",
    "detect_backbone_kind",
    "embedded_backbone_path",
    "load_embedded_backbone",
    "verify_embedded_backbone",
    "load_backbone",
    "tap_layers",
]
