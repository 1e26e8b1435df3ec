"""One feature cache for warm-up and improve: the warm-up's flip is improve's mirror view, and improve runs no
UNet pass for an (image, view) entry the warm-up cached in the folder they share."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.training.feature_cache import FeatureCache, FeatureEntries


@pytest.fixture(scope="module")
def rooms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    return generate_rooms(RoomsConfig(out=str(tmp_path_factory.mktemp("shared") / "rooms"), num=10, size=16),
                          progress=False)


def test_improve_computes_only_the_views_the_warmup_did_not_cache(rooms, tiny_pixel_path, tmp_path):
    from diff2in1.perception.splits import open_backbone, open_split
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.augment import Augmentation
    from diff2in1.training.samples import open_samples
    from diff2in1.training.sources import BatchSource

    backbone = open_backbone(str(tiny_pixel_path))
    dataset = open_split("rooms", str(rooms), "train", None, backbone.sample_size)
    warmup = BatchSource(backbone, dataset, Augmentation(flip=True), seed=0, cache_dir=tmp_path)
    for _ in range(3):  # 12 draws of flipped and plain samples: some images and mirrors, not all
        warmup.features(warmup.next(4))
    samples, images = open_samples(dataset, in_memory=True), len(dataset)
    improve = FeatureCache(backbone, samples, ViewBank(3), FeatureEntries(tmp_path)).fill([0, 1, 2])
    assert 0 < warmup.cache.computed < 2 * images
    assert improve.computed == 3 * images - warmup.cache.computed  # the crop view, and what the warm-up left
    rows, mirror = torch.arange(images), torch.ones(images, dtype=torch.long)
    for a, b in zip(improve.get(rows, mirror), warmup.cache.get(rows, mirror)):
        assert torch.equal(a, b)
    # The warm-up's flip and improve's mirror view are one entry: computed apart, they agree (fp16 storage).
    fresh = FeatureCache(backbone, samples, ViewBank(3)).get(rows, mirror)
    for a, b in zip(fresh, improve.get(rows, mirror)):
        torch.testing.assert_close(a, b, rtol=2e-3, atol=1e-3)


def test_a_warmup_and_an_improve_sharing_a_cache_dir_compute_each_entry_once(rooms, tiny_pixel_path, tmp_path,
                                                                            monkeypatch):
    from diff2in1.self_improving.improve import ImproveConfig, train_improve
    from diff2in1.training.warmup import WarmupConfig, train_warmup

    stage, computed, asked = ["warmup"], [], []
    compute, get = FeatureCache._compute, FeatureCache.get

    def counting(self, pairs):
        computed.extend((stage[0], self.keys[row], self.spec(view).tag) for row, view in pairs)
        return compute(self, pairs)

    def asking(self, rows, views, device=None):
        asked.extend((stage[0], self.keys[r], self.spec(v).tag) for r, v in zip(rows.tolist(), views.tolist()))
        return get(self, rows, views, device)

    monkeypatch.setattr(FeatureCache, "_compute", counting)
    monkeypatch.setattr(FeatureCache, "get", asking)
    common = {"backbone": str(tiny_pixel_path), "data": str(rooms), "cache_dir": str(tmp_path / "features"),
              "batch_size": 4, "progress": False}
    train_warmup(WarmupConfig(**common, out=str(tmp_path / "warmup"), steps=3, channels=8))
    stage[0] = "improve"
    train_improve(ImproveConfig(**common, out=str(tmp_path / "improve"), warmup=str(tmp_path / "warmup" / "checkpoint"),
                                steps=3, pseudo_batch_size=0, synthetic="", views=2, lr_warmup=0, eval_flip=False))
    cached = {(key, tag) for who, key, tag in computed if who == "warmup"}
    by_improve = [(key, tag) for who, key, tag in computed if who == "improve"]
    wanted = {(key, tag) for who, key, tag in asked if who == "improve"}
    assert len(list((tmp_path / "features").glob("v[01]/*.safetensors"))) >= len(cached) > 0
    assert len(by_improve) == len(set(by_improve)) and set(by_improve) == wanted - cached
    assert wanted & cached  # improve read the warm-up's entries instead of running the UNet on them
