"""Readers of distributed data sets, yielding the items of the project's layout (see base.py).

Use :func:`diff2in1.data.open.open_dataset` rather than the classes directly.
"""

from .ade20k import ADE20K
from .base import ReaderDataset
from .images import ImageFolder
from .nyud_mt import NYUDMT
from .nyuv2 import NYUv2Depth
from .nyuv2_normals import NYUv2Normals
from .pascal_context import PascalContextMT

__all__ = ["ADE20K", "ImageFolder", "NYUDMT", "NYUv2Depth", "NYUv2Normals", "PascalContextMT", "ReaderDataset"]
