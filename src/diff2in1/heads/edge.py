"""Boundary head: per-pixel boundary probability trained with the class-balanced BCE of HED.

Boundaries are a few percent of the pixels; the multi-task works (ASTMT, MTI-Net, ATRC, InvPT) weigh a
boundary pixel 0.95 and a non-boundary pixel 0.05, and give the task a loss weight of 50.
"""

from __future__ import annotations

from ..tasks import EDGE
from .binary import BinaryHead

EDGE_POS_WEIGHT = 0.95


class EdgeHead(BinaryHead):
    """``forward`` returns ``logits`` and ``edge`` (Bx1xHxW boundary probability); see :class:`BinaryHead`."""

    task = EDGE
    pos_weight = EDGE_POS_WEIGHT
