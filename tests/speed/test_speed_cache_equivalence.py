"""The feature cache changes speed, not results: same loss as the UNet path, keys that miss on any change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.backbones import DiffusionBackbone, load_backbone
from diff2in1.heads import PerceptionModel
from diff2in1.perception.identity import image_key
from diff2in1.training.feature_cache import FeatureCache

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


def _both_paths(backbone: DiffusionBackbone, images: torch.Tensor) -> tuple[list, list, dict, PerceptionModel]:
    """Features of a batch with flipped samples: uncached (flip, then one UNet pass) and from the cache."""
    torch.manual_seed(0)
    model = PerceptionModel(backbone.feature_channels, backbone.feature_strides, ["normal", "depth"], channels=8)
    indices = torch.tensor([0, 2, 3, 5])
    flipped = torch.tensor([False, True, False, True])
    chosen = images[indices]
    chosen = torch.where(flipped.view(-1, 1, 1, 1), chosen.flip(-1), chosen)
    uncached = backbone.extract_features(chosen * 2 - 1)
    cached = FeatureCache(backbone).build(images, progress=False).get(indices, flipped)
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
    first = FeatureCache(backbone, folder=tmp_path).build(images, progress=False, eager=True)
    assert first.hits == 0 and len(list(tmp_path.glob("*.safetensors"))) == 2 * NUM_IMAGES  # image and mirror

    second = FeatureCache(backbone, folder=tmp_path).build(images, progress=False)
    assert second.hits == 2 * NUM_IMAGES
    indices, flipped = torch.arange(NUM_IMAGES), torch.arange(NUM_IMAGES) % 2 == 1
    for a, b in zip(first.get(indices, flipped), second.get(indices, flipped)):
        assert torch.equal(a, b)

    changed = images.clone()
    changed[0] = 1 - changed[0]
    assert FeatureCache(backbone, folder=tmp_path).build(changed, progress=False).hits == 2 * (NUM_IMAGES - 1)

    retrained = load_backbone("pixel", tiny_pixel_path)
    with torch.no_grad():
        next(retrained.unet.parameters()).add_(1e-3)
    assert FeatureCache(retrained, folder=tmp_path).build(images, progress=False).hits == 0


def test_cache_key_follows_the_caption():
    from diff2in1.perception.identity import image_key

    image = torch.rand(3, 8, 8)
    assert image_key(image, "fp", 0, "a room") != image_key(image, "fp", 0, "a red room")
    assert image_key(image, "fp", 0, "a room") == image_key(image, "fp", 0, "a room")


def test_lazy_cache_runs_the_unet_only_for_what_is_asked_and_matches_the_eager_one(backbone, images, monkeypatch):
    eager = FeatureCache(backbone).build(images, progress=False, eager=True)
    calls = []
    original = backbone.extract_features
    monkeypatch.setattr(backbone, "extract_features", lambda x, **kw: calls.append(len(x)) or original(x, **kw))
    lazy = FeatureCache(backbone).build(images, progress=False)
    assert calls == []
    indices, flipped = torch.tensor([1, 4, 1]), torch.tensor([True, False, True])
    first = lazy.get(indices, flipped)
    assert sorted(calls) == [1, 1] and int(lazy.done.sum()) == 2  # (4, plain) and (1, mirror), once each
    assert lazy.get(indices, flipped) and sorted(calls) == [1, 1]  # served from memory the second time
    # t_p noise differs between the two builds' UNet passes; fp16 storage on top
    for a, b in zip(first, eager.get(indices, flipped)):
        assert torch.allclose(a, b, atol=5e-2 * float(b.abs().max()))


def test_fill_computes_every_image_and_mirror(backbone, images):
    cache = FeatureCache(backbone).build(images, progress=False)
    assert not cache.done.any()
    assert cache.fill().done.all() and cache.done.shape == (NUM_IMAGES, 2)
