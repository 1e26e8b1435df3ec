"""Perception checkpoints: ``model.safetensors`` (aggregator + heads) and ``perception.json``.

perception.json holds the model's constructor config, its tasks and classes, and which backbone (kind,
path, fingerprint, timestep) its features came from, so a checkpoint is never silently paired with
another task set or backbone. Improve checkpoints add ``creation.safetensors`` (θC, the EMA copy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..fileio import load_tensors, read_json, save_tensors, write_json
from ..heads import PerceptionModel

MODEL_FILE = "model.safetensors"
CREATION_FILE = "creation.safetensors"
INFO_FILE = "perception.json"


def save_perception(folder: str | Path, model: PerceptionModel, info: dict[str, Any],
                    creation: PerceptionModel | None = None) -> Path:
    """Write model weights, then the JSON last: a folder with a JSON is a complete checkpoint."""
    folder = Path(folder)
    save_tensors(folder / MODEL_FILE, model.state_dict())
    if creation is not None:
        save_tensors(folder / CREATION_FILE, creation.state_dict())
    write_json(folder / INFO_FILE, {**info, "model": model.config(), "has_creation": creation is not None})
    return folder


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
