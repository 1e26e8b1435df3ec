"""Held view features are read inside the training step's autocast: bf16 mixed precision must not break it."""

from __future__ import annotations

from pathlib import Path

import torch


def test_held_features_are_read_under_a_bf16_autocast(tiny_pixel_path: Path):
    from diff2in1.perception.splits import open_backbone
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.feature_cache import FeatureCache
    from diff2in1.training.samples import HeldSamples

    backbone = open_backbone(str(tiny_pixel_path))
    side = backbone.sample_size
    images = torch.rand(3, 3, side, side, generator=torch.Generator().manual_seed(0))
    store = FeatureCache(backbone, HeldSamples({"image": images}), ViewBank(2))
    rows, views = torch.tensor([2, 0, 1]), torch.tensor([1, 0, 1])
    store.fill([0, 1])
    plain = store.get(rows, views)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # what `diff2in1 improve --mixed-precision bf16` reads under
        mixed = store.get(rows, views)
    for a, b in zip(plain, mixed):
        assert b.dtype == torch.float32
        assert torch.equal(a, b)
