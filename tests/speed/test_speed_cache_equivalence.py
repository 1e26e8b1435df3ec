"""The feature cache changes speed, not results: same loss as the UNet path, keys that miss on any change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.backbones import DiffusionBackbone, load_backbone
from diff2in1.heads import PerceptionModel
from diff2in1.perception.identity import image_key
from diff2in1.training.feature_cache import FeatureCache, FeatureEntries, ImageAndMirror
from diff2in1.training.samples import HeldSamples

NUM_IMAGES, SIZE = 6, 16


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: on a busy machine, intra-op threads spin-waiting for cores only slow them down."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def backbone(tiny_pixel_path: Path) -> DiffusionBackbone:
    return load_backbone("pixel", tiny_pixel_path)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(NUM_IMAGES, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))


def _labels(batch: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    normal = torch.randn(batch, 3, SIZE, SIZE, generator=g)
    return {"normal": normal / normal.norm(dim=1, keepdim=True),
            "depth": torch.rand(batch, 1, SIZE, SIZE, generator=g) * 4 + 0.5}


def _cache(backbone: DiffusionBackbone, images: torch.Tensor, folder: Path | None = None) -> FeatureCache:
    """The warm-up's cache of ``images``: each image and its mirror."""
    return FeatureCache(backbone, HeldSamples({"image": images}), ImageAndMirror(), FeatureEntries(folder),
                        batch_size=16)


def _both_paths(backbone: DiffusionBackbone, images: torch.Tensor) -> tuple[list, list, dict, PerceptionModel]:
    """Features of a batch with flipped samples: uncached (flip, then one UNet pass) and from the cache."""
    torch.manual_seed(0)
    model = PerceptionModel(backbone.feature_channels, backbone.feature_strides, ["normal", "depth"], channels=8)
    indices = torch.tensor([0, 2, 3, 5])
    flipped = torch.tensor([False, True, False, True])
    chosen = images[indices]
    chosen = torch.where(flipped.view(-1, 1, 1, 1), chosen.flip(-1), chosen)
    uncached = backbone.extract_features(chosen * 2 - 1)
    cached = _cache(backbone, images).get(indices, flipped.long())
    return uncached, cached, _labels(len(indices)), model


def _loss(model: PerceptionModel, features: list[torch.Tensor], labels: dict) -> torch.Tensor:
    with torch.no_grad():
        return model.loss(model(features, (SIZE, SIZE)), labels)[0]


def test_speed_cached_and_uncached_paths_give_the_same_loss(backbone, images):
    uncached, cached, labels, model = _both_paths(backbone, images)
    assert [f.shape for f in cached] == [f.shape for f in uncached]
    assert all(f.dtype == torch.float32 for f in cached)
    # Each path draws its own t_p noise, as streamed epochs do; the loss does not notice.
    assert torch.isclose(_loss(model, cached, labels), _loss(model, uncached, labels), rtol=1e-2)


def test_speed_cached_features_match_within_fp16_rounding(backbone, images, monkeypatch):
    """With the t_p noise fixed (zero), the only difference left is the cache's fp16 storage."""

    def noiseless(sample, timesteps, noise=None, generator=None):
        return DiffusionBackbone.add_noise(backbone, sample, timesteps, noise=torch.zeros_like(sample))

    monkeypatch.setattr(backbone, "add_noise", noiseless)
    uncached, cached, labels, model = _both_paths(backbone, images)
    for a, b in zip(uncached, cached):
        assert (a - b).abs().max() <= 2e-3 * a.abs().max()  # fp16 keeps 11 significant bits
    assert torch.isclose(_loss(model, cached, labels), _loss(model, uncached, labels), rtol=1e-4)


def test_speed_cache_key_changes_with_image_weights_and_timestep(tiny_pixel_path, backbone, images):
    fingerprint, image = backbone.fingerprint(), images[0]
    key = image_key(image, fingerprint, 0)
    assert image_key(image + 1e-5, fingerprint, 0) == key  # float noise below 8-bit precision: still a hit

    edited = image.clone()
    edited[:, 0, 0] = 1 - edited[:, 0, 0]
    assert image_key(edited, fingerprint, 0) != key
    assert image_key(image, fingerprint, 10) != key

    retrained = load_backbone("pixel", tiny_pixel_path)
    with torch.no_grad():
        next(retrained.unet.parameters()).add_(1e-3)
    assert retrained.fingerprint() != fingerprint
    assert image_key(image, retrained.fingerprint(), 0) != key
    assert load_backbone("pixel", tiny_pixel_path, perception_timestep=10).fingerprint() != fingerprint


def test_speed_folder_cache_is_reused_and_misses_on_a_changed_backbone(tiny_pixel_path, backbone, images, tmp_path):
    first = _cache(backbone, images, tmp_path).fill([0, 1])
    assert first.computed == 2 * NUM_IMAGES and len(list(tmp_path.glob("v[01]/*.safetensors"))) == 2 * NUM_IMAGES

    second = _cache(backbone, images, tmp_path)
    indices, views = torch.arange(NUM_IMAGES), torch.arange(NUM_IMAGES) % 2
    for a, b in zip(first.get(indices, views), second.get(indices, views)):
        assert torch.equal(a, b)
    assert second.fill([0, 1]).computed == 0  # every image and mirror read from the folder

    changed = images.clone()
    changed[0] = 1 - changed[0]
    assert _cache(backbone, changed, tmp_path).fill([0, 1]).computed == 2  # only the changed image and its mirror

    retrained = load_backbone("pixel", tiny_pixel_path)
    with torch.no_grad():
        next(retrained.unet.parameters()).add_(1e-3)
    assert _cache(retrained, images, tmp_path).fill([0, 1]).computed == 2 * NUM_IMAGES


def test_cache_key_follows_the_caption():
    from diff2in1.perception.identity import image_key

    image = torch.rand(3, 8, 8)
    assert image_key(image, "fp", 0, "a room") != image_key(image, "fp", 0, "a red room")
    assert image_key(image, "fp", 0, "a room") == image_key(image, "fp", 0, "a room")


def test_lazy_cache_runs_the_unet_only_for_what_is_asked_and_matches_the_eager_one(backbone, images, monkeypatch):
    eager = _cache(backbone, images).fill([0, 1])
    calls = []
    original = backbone.extract_features
    monkeypatch.setattr(backbone, "extract_features", lambda x, **kw: calls.append(len(x)) or original(x, **kw))
    lazy = _cache(backbone, images)
    assert calls == []
    indices, views = torch.tensor([1, 4, 1]), torch.tensor([1, 0, 1])
    first = lazy.get(indices, views)
    assert calls == [2] and lazy.computed == 2  # (4, plain) and (1, mirror), once each, in one pass
    assert lazy.get(indices, views) and calls == [2]  # served from memory the second time
    # the same noise draw per entry as the eager fill's, which batched the images otherwise; fp16 storage on top
    for a, b in zip(first, eager.get(indices, views)):
        assert torch.allclose(a, b, atol=1e-2 * float(b.abs().max()))


def test_fill_computes_every_image_and_mirror(backbone, images):
    cache = _cache(backbone, images)
    assert cache.computed == 0
    assert cache.fill([0, 1]).computed == 2 * NUM_IMAGES and cache.fill([0, 1]).computed == 2 * NUM_IMAGES
