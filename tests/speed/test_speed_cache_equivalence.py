"""The feature cache changes speed, not results: same loss as the UNet path, keys that miss on any change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.backbones import DiffusionBackbone, load_backbone
from diff2in1.heads import PerceptionModel
from diff2in1.training.feature_cache import FeatureCache, entry_key

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
    key = entry_key(image, fingerprint, 0)
    assert entry_key(image + 1e-5, fingerprint, 0) == key  # float noise below 8-bit precision: still a hit

    edited = image.clone()
    edited[:, 0, 0] = 1 - edited[:, 0, 0]
    assert entry_key(edited, fingerprint, 0) != key
    assert entry_key(image, fingerprint, 10) != key

    retrained = load_backbone("pixel", tiny_pixel_path)
    with torch.no_grad():
        next(retrained.unet.parameters()).add_(1e-3)
    assert retrained.fingerprint() != fingerprint
    assert entry_key(image, retrained.fingerprint(), 0) != key
    assert load_backbone("pixel", tiny_pixel_path, perception_timestep=10).fingerprint() != fingerprint


def test_speed_folder_cache_is_reused_and_misses_on_a_changed_backbone(tiny_pixel_path, backbone, images, tmp_path):
    first = FeatureCache(backbone, folder=tmp_path).build(images, progress=False)
    assert first.hits == 0 and len(list(tmp_path.glob("*.safetensors"))) == NUM_IMAGES

    second = FeatureCache(backbone, folder=tmp_path).build(images, progress=False)
    assert second.hits == NUM_IMAGES
    indices, flipped = torch.arange(NUM_IMAGES), torch.arange(NUM_IMAGES) % 2 == 1
    for a, b in zip(first.get(indices, flipped), second.get(indices, flipped)):
        assert torch.equal(a, b)

    changed = images.clone()
    changed[0] = 1 - changed[0]
    assert FeatureCache(backbone, folder=tmp_path).build(changed, progress=False).hits == NUM_IMAGES - 1

    retrained = load_backbone("pixel", tiny_pixel_path)
    with torch.no_grad():
        next(retrained.unet.parameters()).add_(1e-3)
    assert FeatureCache(retrained, folder=tmp_path).build(images, progress=False).hits == 0


def test_cache_key_follows_the_caption():
    from diff2in1.training.feature_cache import entry_key

    image = torch.rand(3, 8, 8)
    assert entry_key(image, "fp", 0, "a room") != entry_key(image, "fp", 0, "a red room")
    assert entry_key(image, "fp", 0, "a room") == entry_key(image, "fp", 0, "a room")
