"""Shared fixtures: tiny diffusion models saved once per session in the folder layouts real models use."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.backbones.tiny import clip_vocab_file, save_tiny_pixel_unet, save_tiny_stable_diffusion

# Tiny models on a 2-core machine: a second thread costs more in synchronisation than it gains.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_sd_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Stable Diffusion folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/).

    32x32 images, VAE /2, latent 4x16x16; features ``[64, 32]`` channels at strides ``[2, 2]``; real CLIP BPE
    tokenizer. Skipped when CLIP's vocabulary file (from the open_clip package) is not installed.
    """
    try:
        clip_vocab_file()
    except FileNotFoundError as error:
        pytest.skip(f"tiny Stable Diffusion needs CLIP's BPE vocabulary: {error}")
    return save_tiny_stable_diffusion(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="session")
def tiny_pixel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random pixel-space UNet2DModel folder (unet/, scheduler/): 16x16 images, features ``[32, 16]``
    channels at strides ``[1, 1]``."""
    return save_tiny_pixel_unet(tmp_path_factory.mktemp("tiny_pixel"))
