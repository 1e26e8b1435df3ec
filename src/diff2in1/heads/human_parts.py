"""Human-part head: the 7 part classes of PASCAL-Part's people (background, head, torso, upper / lower
arms, upper / lower legs), cross-entropy with the ignore label 255, as the multi-task works train it."""

from __future__ import annotations

from ..tasks import HUMAN_PART_CLASSES, HUMAN_PARTS
from .segmentation import SegmentationHead


class HumanPartsHead(SegmentationHead):
    """``forward`` returns ``logits`` (Bx7xHxW) and ``human_parts`` (BxHxW int64 part index).

    Args:
        in_channels: channels of the fused feature map.
        mid_channels: channels of the fine-resolution part (default max(in_channels // 4, 16)).
    """

    task = HUMAN_PARTS

    def __init__(self, *, in_channels: int = 128, mid_channels: int | None = None) -> None:
        super().__init__(len(HUMAN_PART_CLASSES), in_channels=in_channels, mid_channels=mid_channels)
