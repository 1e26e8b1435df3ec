"""Data: the on-disk layout, readers of real data sets, and the procedural rooms scenes."""

from .open import DATASET_NAMES, open_dataset

__all__ = ["DATASET_NAMES", "open_dataset"]
