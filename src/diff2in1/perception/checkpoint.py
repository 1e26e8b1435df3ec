"""Perception checkpoints: ``model.safetensors`` (aggregator + heads) and ``perception.json``.

perception.json holds the model's constructor config, its tasks and classes, and which backbone (kind,
path, fingerprint, timestep) its features came from, so a checkpoint is never silently paired with
another task set or backbone. Improve checkpoints add ``creation.safetensors`` (θC, the EMA copy). When the
backbone trained (``--train-backbone lora|full``), ``model_unet.safetensors`` and ``creation_unet.safetensors``
hold θE's and θC's UNet weights (adapters, or the whole UNet), and ``perception.json``'s
``backbone.trained`` names the mode, its settings and their fingerprint beside the pretrained one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..fileio import load_tensors, read_json, save_tensors, write_json
from ..heads import PerceptionModel

MODEL_FILE = "model.safetensors"
CREATION_FILE = "creation.safetensors"
INFO_FILE = "perception.json"


def save_perception(folder: str | Path, model: PerceptionModel, info: dict[str, Any],
                    creation: PerceptionModel | None = None,
                    unet: dict[str, dict[str, torch.Tensor]] | None = None) -> Path:
    """Write model weights, then the JSON last: a folder with a JSON is a complete checkpoint.

    ``unet``: the trained UNet weights of θE (``"model"``) and θC (``"creation"``) when the backbone trained
    (``info["backbone"]["trained"]`` says how); each is written as ``<which>_unet.safetensors``.
    """
    folder = Path(folder)
    save_tensors(folder / MODEL_FILE, model.state_dict())
    if creation is not None:
        save_tensors(folder / CREATION_FILE, creation.state_dict())
    for which, tensors in (unet or {}).items():
        save_tensors(folder / unet_file(which), tensors)
    write_json(folder / INFO_FILE, {**info, "model": model.config(), "has_creation": creation is not None})
    return folder


def unet_file(which: str) -> str:
    """The file of a head's trained UNet weights (``which``: model = θE, creation = θC)."""
    return f"{which}_unet.safetensors"


def load_unet_weights(folder: str | Path, which: str = "model") -> dict[str, torch.Tensor] | None:
    """The trained UNet weights stored beside head ``which`` (θC falls back to θE's, as its heads do);
    None when the checkpoint's backbone did not train."""
    folder = Path(folder)
    if not read_perception_info(folder)["backbone"].get("trained"):
        return None
    file = folder / unet_file(which)
    if which == "creation" and not file.is_file():
        file = folder / unet_file("model")
    if not file.is_file():
        raise FileNotFoundError(f"{file}: {folder / INFO_FILE} says its backbone trained, but the weights are missing")
    return load_tensors(file)


def read_perception_info(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / INFO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a perception checkpoint (run `diff2in1 warmup` to make one)")
    return read_json(path)


def load_perception(folder: str | Path, tasks: list[str] | None = None, which: str = "model") -> tuple[PerceptionModel, dict]:
    """Load a checkpoint's θE (``which='model'``) or θC (``which='creation'``); check the task set."""
    folder = Path(folder)
    info = read_perception_info(folder)
    if tasks is not None and sorted(tasks) != sorted(info["model"]["tasks"]):
        raise ValueError(
            f"{folder / INFO_FILE}: checkpoint was trained for tasks {info['model']['tasks']}, "
            f"but {tasks} were asked for; use a checkpoint of the same task set or change --tasks"
        )
    model = PerceptionModel.from_config(info["model"])
    file = folder / (CREATION_FILE if which == "creation" else MODEL_FILE)
    if which == "creation" and not file.is_file():
        file = folder / MODEL_FILE  # a warm-up checkpoint: θC starts as θE
    missing, unexpected = model.load_state_dict(load_tensors(file), strict=False)
    if missing or unexpected:
        raise ValueError(f"{file}: weights do not match {folder / INFO_FILE} (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model, info
