"""The rooms backbone shipped with the package: hash-checked, and it really denoises rooms it has not seen."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from diff2in1.backbones import (
    PixelBackbone,
    embedded_backbone_path,
    load_embedded_backbone,
    verify_embedded_backbone,
)
from diff2in1.data.rooms import render_scene, sample_scene

WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture(scope="module")
def backbone() -> PixelBackbone:
    return load_embedded_backbone()


@pytest.fixture
def one_thread():
    """Small batches run as fast on one thread, and several threads slow down ~10x when the CPU is shared
    (e.g. with other test processes): measured 0.12 s vs 0.9 s per UNet pass of 2 images on a loaded 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rooms_images(seeds: list[int]) -> torch.Tensor:
    """Rooms the backbone was not trained on (its data came from render_index), Bx3x64x64 in [-1, 1]."""
    images = np.stack([render_scene(sample_scene(np.random.default_rng(s)), 64)["image"] for s in seeds])
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


@torch.no_grad()
def ddim_from(backbone: PixelBackbone, noisy: torch.Tensor, start: int) -> torch.Tensor:
    """Deterministic DDIM (50-step schedule) from timestep ``start`` back to an image."""
    backbone.set_inference_steps(50)
    sample = noisy
    for t in backbone.scheduler.timesteps:
        if t <= start:
            out, _ = backbone.unet_pass(sample, t)
            sample = backbone.denoise_step(out, t, sample)
    return backbone.decode(sample)


def test_embedded_backbone_is_the_rooms_model(backbone):
    assert backbone.sample_size == 64 and not backbone.takes_text
    assert backbone.dtype == torch.float32  # the fp16 file is upcast for CPU use
    assert sum(p.numel() for p in backbone.unet.parameters()) == pytest.approx(6.67e6, rel=0.01)


# Measured (MSE per image on [-1, 1]): noisy 0.36 -> denoised 0.005, 0.009 from t=400; 0.68 -> 0.011, 0.005
# from t=600, i.e. 1-3 % of the noisy error; a randomly initialised UNet of the same config stays at 0.94-0.99x.
@pytest.mark.parametrize(("start", "seeds"), [(400, [11, 12]), (600, [13, 14])])
def test_embedded_backbone_denoises_unseen_rooms(backbone, one_thread, start, seeds):
    clean = rooms_images(seeds)
    noisy = backbone.add_noise(backbone.encode(clean), start, generator=torch.Generator().manual_seed(0))
    noisy_error = ((noisy - clean) ** 2).mean(dim=(1, 2, 3))
    error = ((ddim_from(backbone, noisy, start) - clean) ** 2).mean(dim=(1, 2, 3))
    assert (error < 0.1 * noisy_error).all(), (error, noisy_error)


def test_tampered_weights_are_refused(tmp_path: Path):
    copy = shutil.copytree(embedded_backbone_path(), tmp_path / "rooms64")
    assert verify_embedded_backbone(copy) == copy
    weights = copy / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=re.escape(str(weights)) + r": SHA-256 .* does not match .* reinstall"):
        verify_embedded_backbone(copy)
    weights.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(weights)) + r": file of the embedded backbone is missing"):
        verify_embedded_backbone(copy)
