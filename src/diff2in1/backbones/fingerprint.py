"""Short, stable hashes of frozen models, for feature-cache invalidation and provenance."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch
from torch import nn

# Elements of each weight tensor hashed verbatim (on top of its rounded sums).
_SAMPLES_PER_TENSOR = 64


def fingerprint_modules(modules: dict[str, nn.Module], settings: dict[str, Any] | None = None) -> str:
    """A 16-hex-digit hash of each module's config and weights, plus ``settings`` (JSON-able).

    Each weight tensor contributes its name, shape, a few elements verbatim and its sum and absolute sum
    rounded to 7 significant digits, so the hash does not depend on the device, on a lossless dtype cast or
    on the folder the model was loaded from, yet changes when any weight is changed by training.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(settings or {}, sort_keys=True, default=str).encode())
    for name, module in sorted(modules.items()):
        digest.update(name.encode())
        digest.update(_config_json(getattr(module, "config", {})).encode())
        for key, tensor in module.state_dict().items():
            digest.update(_tensor_summary(key, tensor))
    return digest.hexdigest()[:16]


def _config_json(config: Any) -> str:
    """A model config as JSON without bookkeeping keys (paths, library versions, dtype)."""
    items = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    skip = {"transformers_version", "torch_dtype", "dtype"}
    kept = {k: v for k, v in items.items() if not k.startswith("_") and k not in skip}
    return json.dumps(kept, sort_keys=True, default=str)


def _tensor_summary(key: str, tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().reshape(-1)
    step = max(1, flat.numel() // _SAMPLES_PER_TENSOR)
    samples = flat[::step][:_SAMPLES_PER_TENSOR].float().cpu()
    wide = flat.double()
    sums = f"{wide.sum().item():.6e},{wide.abs().sum().item():.6e}"
    header = f"{key}:{tuple(tensor.shape)}:{sums}:".encode()
    return header + samples.numpy().tobytes()
