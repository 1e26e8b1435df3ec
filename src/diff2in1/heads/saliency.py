"""Saliency head: per-pixel probability of belonging to a salient object, trained with plain BCE."""

from __future__ import annotations

from ..tasks import SALIENCY
from .binary import BinaryHead


class SaliencyHead(BinaryHead):
    """``forward`` returns ``logits`` and ``saliency`` (Bx1xHxW probability); see :class:`BinaryHead`."""

    task = SALIENCY
    pos_weight = None
