"""Encoding, noising, DDIM steps and classifier-free guidance."""

from __future__ import annotations

import pytest
import torch

from diff2in1.backbones import DiffusionBackbone


def test_encode_decode_shapes_and_range(backbone: DiffusionBackbone) -> None:
    side = backbone.sample_size
    images = torch.rand(2, 3, side, side) * 2 - 1
    sample = backbone.encode(images)
    latent_side = side // backbone.latent_scale
    assert sample.shape == (2, backbone.unet.config.in_channels, latent_side, latent_side)
    assert torch.equal(backbone.encode(images), sample)  # the latent mean, not a draw
    decoded = backbone.decode(sample)
    assert decoded.shape == images.shape
    assert decoded.min() >= -1 and decoded.max() <= 1


def test_pixel_space_is_the_image_space(pixel_backbone) -> None:
    images = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.equal(pixel_backbone.encode(images), images)
    assert torch.equal(pixel_backbone.decode(images * 3), (images * 3).clamp(-1, 1))


def test_add_noise_follows_the_schedule(backbone: DiffusionBackbone) -> None:
    sample = torch.ones(2, 4, 8, 8)
    noise = torch.randn(2, 4, 8, 8)
    abar = backbone.scheduler.alphas_cumprod[600]
    expected = abar.sqrt() * sample + (1 - abar).sqrt() * noise
    assert torch.allclose(backbone.add_noise(sample, 600, noise=noise), expected, atol=1e-6)
    a = backbone.add_noise(sample, torch.tensor([0, 999]), generator=torch.Generator().manual_seed(3))
    b = backbone.add_noise(sample, torch.tensor([0, 999]), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert (a[0] - sample[0]).abs().max() < (a[1] - sample[1]).abs().max()


def test_denoise_step_runs_a_ddim_step(backbone: DiffusionBackbone) -> None:
    backbone.scheduler.num_inference_steps = None
    sample = torch.randn(
        2, backbone.unet.config.in_channels, 8, 8, generator=torch.Generator().manual_seed(0)
    )
    with pytest.raises(RuntimeError, match="set_inference_steps"):
        backbone.denoise_step(torch.zeros_like(sample), 999, sample)
    timesteps = backbone.set_inference_steps(5)
    assert len(timesteps) == 5 and timesteps[0] > timesteps[-1]
    t = timesteps[0]
    cond = backbone.encode_text(None)
    output, _ = backbone.unet_pass(sample, t, cond)
    previous = backbone.denoise_step(output, t, sample)
    assert previous.shape == sample.shape
    assert torch.equal(backbone.denoise_step(output, t, sample), previous)  # eta 0: deterministic
    assert not torch.equal(previous, sample)


def test_guidance_runs_one_pass_and_returns_conditional_features(sd_backbone) -> None:
    noisy = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    cond = sd_backbone.encode_text(["a red box", "a green wall"])
    out_c, feats_c = sd_backbone.unet_pass(noisy, 300, cond)
    out_u, _ = sd_backbone.unet_pass(noisy, 300, None)

    calls = []
    handle = sd_backbone.unet.register_forward_hook(lambda *args: calls.append(1))
    try:
        guided, feats = sd_backbone.guided_output(noisy, 300, cond, None, scale=3.0)
    finally:
        handle.remove()
    assert len(calls) == 1
    assert torch.allclose(guided, out_u + 3.0 * (out_c - out_u), atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(feats, feats_c))
    plain, _ = sd_backbone.guided_output(noisy, 300, cond, None, scale=1.0)
    assert torch.allclose(plain, out_c, atol=1e-6)
