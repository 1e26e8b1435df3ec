"""What identifies an image's frozen-backbone features: its key, and the noise of each view's perception pass.

Features depend only on the image (8-bit pixels), its caption (text backbones), the backbone's weights
and the perception timestep; the key hashes exactly those, so a changed image, backbone or timestep
misses a cache instead of serving stale features. The perception pass's noise is seeded by (key, view),
so an image gets the same noise wherever it is evaluated or cached: in any batch, set order or process.
"""

from __future__ import annotations

import hashlib

import torch

CLEAN, MIRROR = 0, 1  # the image itself and its mirror (views.py numbers the perturbed views after them)


def image_key(image: torch.Tensor, fingerprint: str, timestep: int, caption: str = "") -> str:
    """Key of an image in [0, 1] (3xHxW), quantised to 8 bits so tiny float noise does not miss.

    ``caption`` is the text condition (text backbones): a re-captioned image misses the cache.
    """
    data = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy().tobytes()
    digest = hashlib.sha256(data)
    digest.update(f"{fingerprint}:{timestep}:{tuple(image.shape)}:{caption}".encode())
    return digest.hexdigest()[:32]


def noise_seed(key: str, view: int) -> int:
    """The seed of the perception noise of view ``view`` of the image with key ``key``."""
    return int(key[:15], 16) + view
