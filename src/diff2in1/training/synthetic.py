"""The synthetic half of the self-improving stage: created images, their labels and their features.

Labels come from θC on the fly (Diff-2-in-1) or, for the fixed-label control, from the files `create`
wrote with the warm-up head. Online creation replaces the images with new ones made from the real
labelled images, and their cached features with those of the new images.
"""

from __future__ import annotations

from typing import Any

import torch

from ..backbones import DiffusionBackbone
from ..heads import PerceptionModel
from ..perception.splits import to_device
from .augment import Augmentation, augment_batch, step_generator
from .feature_cache import FeatureCache
from .sources import take


class SyntheticPool:
    """Created samples held in memory (images in [0, 1], captions, optional stored labels)."""

    def __init__(self, backbone: DiffusionBackbone, batch: dict[str, Any], augmentation: Augmentation, seed: int,
                 cache: bool, progress: bool = True, start_step: int = 0, cache_dir: str | None = None):
        self.backbone, self.augmentation, self.use_cache, self.progress = backbone, augmentation, cache, progress
        self.cache_dir = cache_dir
        self.seed, self.calls = seed, start_step  # draws seeded per call: a resumed run repeats them
        self.cache: FeatureCache | None = None
        self.replace(batch)

    def replace(self, batch: dict[str, Any]) -> None:
        """New synthetic images (online creation); cached features follow."""
        self.batch = batch
        self.batch["index"] = torch.arange(len(batch["image"]))
        self.cache = None  # free the old images' features before filling the new ones (online creation)
        if self.use_cache:
            captions = batch.get("caption") if self.backbone.takes_text else None
            self.cache = FeatureCache(self.backbone, self.cache_dir, with_flip=self.augmentation.flip).build(
                batch["image"], captions, progress=self.progress)

    def __len__(self) -> int:
        return len(self.batch["image"])

    def next(self, size: int) -> dict[str, Any]:
        self.calls += 1
        indices = torch.randint(0, len(self), (size,), generator=step_generator(self.seed + 2, self.calls - 1))
        batch = to_device(take(self.batch, indices), self.backbone.device)
        return augment_batch(batch, self.augmentation, step_generator(self.seed + 1, self.calls - 1))

    def features(self, batch: dict[str, Any]) -> list[torch.Tensor] | None:
        return self.cache.get(batch["index"], batch.get("flipped")) if self.cache is not None else None


@torch.no_grad()
def label_with(model: PerceptionModel, features: list[torch.Tensor], out_size: tuple[int, int],
               confidence_drop: float = 0.0, mirror_features: list[torch.Tensor] | None = None) -> dict[str, Any]:
    """θC's labels for synthetic samples, with validity masks.

    ``confidence_drop`` in [0, 1): the share of each task's pixels in the batch, the least confident by θC,
    masked out. A share rather than a threshold because the confidences have no common scale (normal κ
    in [0, ∞), segmentation's top softmax probability in [0, 1]). Tasks without confidence keep all.
    ``mirror_features``: features of the mirrored images; θC's two predictions are then averaged.
    """
    if not 0.0 <= confidence_drop < 1.0:
        raise ValueError(f"confidence_drop must be in [0, 1), got {confidence_drop}")
    was_training = model.training
    model.eval()
    preds = model(features, out_size)
    if mirror_features is not None:
        preds = model.average_with_mirror(preds, model(mirror_features, out_size))
    model.train(was_training)
    labels: dict[str, Any] = dict(model.labels_from_preds(preds))
    confidences = model.confidences(preds)
    labels["mask"] = {}
    for task in model.tasks:
        mask = torch.ones(labels[task].shape[0], *out_size, dtype=torch.bool, device=features[0].device)
        confidence = confidences.get(task)
        if confidence_drop > 0 and confidence is not None:
            flat = confidence.float().flatten()
            threshold = flat.kthvalue(max(1, int(confidence_drop * flat.numel()))).values
            mask = confidence > threshold
        labels["mask"][task] = mask
    return labels
