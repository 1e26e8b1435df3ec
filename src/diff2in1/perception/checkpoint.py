"""Perception checkpoints: ``model.safetensors`` (aggregator + heads) and ``perception.json``.

perception.json holds the model's constructor config, its tasks and classes, and which backbone (kind,
path, fingerprint, timestep) its features came from, so a checkpoint is never silently paired with
another task set or backbone. Improve checkpoints add ``theta_c.safetensors`` (θC, the EMA copy) and say so
with ``perception.json``'s ``has_theta_c``. When the backbone trained (``--train-backbone lora|full``),
``model_unet.safetensors`` and ``theta_c_unet.safetensors`` hold θE's and θC's UNet weights (adapters, or the
whole UNet), and ``perception.json``'s ``backbone.trained`` names the mode, its settings and their fingerprint
beside the pretrained one.

Checkpoints written before θC's files took its name (``creation.safetensors``, ``creation_unet.safetensors``,
``has_creation``) still load: the readers below fall back to those names (``LEGACY_THETA_C``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..fileio import load_tensors, read_json, save_tensors, write_json
from ..heads import PerceptionModel

MODEL_FILE = "model.safetensors"
THETA_C = "theta_c"
THETA_C_FILE = "theta_c.safetensors"
INFO_FILE = "perception.json"
# θC's name in checkpoints written before it was called theta_c; read, never written.
LEGACY_THETA_C = "creation"
# load_perception / load_unet_weights ``which``: "model" = θE (its files keep the name), "theta_c" = θC.
_WHICH = {"model": "model", "theta_e": "model", THETA_C: THETA_C, LEGACY_THETA_C: THETA_C}


def checkpoint_head(which: str) -> str:
    """'model' / 'theta_e' -> 'model' (θE); 'theta_c' (or the older 'creation') -> 'theta_c' (θC)."""
    if which not in _WHICH:
        raise ValueError(f"which must be 'model' (θE) or 'theta_c' (θC), got {which!r}")
    return _WHICH[which]


def has_theta_c(info: dict[str, Any]) -> bool:
    """Whether a checkpoint's perception.json says it holds θC (``has_creation`` in older checkpoints)."""
    return bool(info.get("has_theta_c", info.get("has_" + LEGACY_THETA_C, False)))


def theta_c_file(folder: str | Path) -> Path | None:
    """The folder's θC heads file (``theta_c.safetensors``, or an older checkpoint's), None without one."""
    for name in (THETA_C_FILE, f"{LEGACY_THETA_C}.safetensors"):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def save_perception(folder: str | Path, model: PerceptionModel, info: dict[str, Any],
                    theta_c: PerceptionModel | None = None,
                    unet: dict[str, dict[str, torch.Tensor]] | None = None) -> Path:
    """Write model weights, then the JSON last: a folder with a JSON is a complete checkpoint.

    ``theta_c``: θC's heads, written as ``theta_c.safetensors``. ``unet``: the trained UNet weights of θE
    (``"model"``) and θC (``"theta_c"``) when the backbone trained (``info["backbone"]["trained"]`` says
    how); each is written as ``<which>_unet.safetensors``.
    """
    folder = Path(folder)
    save_tensors(folder / MODEL_FILE, model.state_dict())
    if theta_c is not None:
        save_tensors(folder / THETA_C_FILE, theta_c.state_dict())
    for which, tensors in (unet or {}).items():
        save_tensors(folder / unet_file(which), tensors)
    for stale in (f"{LEGACY_THETA_C}.safetensors", f"{LEGACY_THETA_C}_unet.safetensors"):  # an older run's θC
        (folder / stale).unlink(missing_ok=True)
    info = {k: v for k, v in info.items() if k not in ("has_theta_c", "has_" + LEGACY_THETA_C)}
    write_json(folder / INFO_FILE, {**info, "model": model.config(), "has_theta_c": theta_c is not None})
    return folder


def unet_file(which: str) -> str:
    """The file of a head's trained UNet weights (``which``: model = θE, theta_c = θC)."""
    return f"{checkpoint_head(which)}_unet.safetensors"


def load_unet_weights(folder: str | Path, which: str = "model") -> dict[str, torch.Tensor] | None:
    """The trained UNet weights stored beside head ``which`` (θC falls back to θE's, as its heads do);
    None when the checkpoint's backbone did not train."""
    folder = Path(folder)
    if not read_perception_info(folder)["backbone"].get("trained"):
        return None
    which = checkpoint_head(which)
    file = folder / unet_file(which)
    if which == THETA_C and not file.is_file():  # an older checkpoint's name, else θE's (a warm-up's)
        older = folder / f"{LEGACY_THETA_C}_unet.safetensors"
        file = older if older.is_file() else folder / unet_file("model")
    if not file.is_file():
        raise FileNotFoundError(f"{file}: {folder / INFO_FILE} says its backbone trained, but the weights are missing")
    return load_tensors(file)


def read_perception_info(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / INFO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a perception checkpoint (run `diff2in1 warmup` to make one)")
    return read_json(path)


def load_perception(folder: str | Path, tasks: list[str] | None = None, which: str = "model") -> tuple[PerceptionModel, dict]:
    """Load a checkpoint's θE (``which='model'``) or θC (``which='theta_c'``); check the task set.

    θC falls back to θE in a warm-up checkpoint (θC starts as θE)."""
    folder = Path(folder)
    info = read_perception_info(folder)
    if tasks is not None and sorted(tasks) != sorted(info["model"]["tasks"]):
        raise ValueError(
            f"{folder / INFO_FILE}: checkpoint was trained for tasks {info['model']['tasks']}, "
            f"but {tasks} were asked for; use a checkpoint of the same task set or change --tasks"
        )
    model = PerceptionModel.from_config(info["model"])
    which = checkpoint_head(which)
    file = (theta_c_file(folder) if which == THETA_C else None) or folder / MODEL_FILE
    missing, unexpected = model.load_state_dict(load_tensors(file), strict=False)
    if missing or unexpected:
        raise ValueError(f"{file}: weights do not match {folder / INFO_FILE} (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model, info
