"""Training checkpoints as safetensors + JSON (no pickles), written to a temporary folder and renamed.

Layout of a checkpoint folder:
    state.json                 step, config, optimizer param groups and scalar state, anything JSON-able
    <name>.safetensors         one per module (e.g. model, ema)
    optimizer.safetensors      optimizer tensors, keyed "<param index>.<field>"
    <name>.safetensors         any further tensors by name (e.g. rng: the processes' random states)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..fileio import load_tensors, read_json, save_tensors, write_json


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, fields in state["state"].items():
        for key, value in fields.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, field = key.split(".", 1)
        state.setdefault(int(index), {})[field] = value
    for index, fields in info["scalars"].items():
        state.setdefault(int(index), {}).update(fields)
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def save_checkpoint(
    folder: str | Path,
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
    tensors: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write a checkpoint folder atomically (a crash mid-write leaves the previous one intact).

    One process must write it (the main one under ``accelerate launch``): the temporary folder is shared.
    """
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, module in modules.items():
        save_tensors(tmp / f"{name}.safetensors", module.state_dict())
    for name, group in (tensors or {}).items():
        save_tensors(tmp / f"{name}.safetensors", group)
    info: dict[str, Any] = dict(extra or {})
    if optimizer is not None:
        tensors, info["optimizer"] = _optimizer_tensors(optimizer)
        save_tensors(tmp / "optimizer.safetensors", tensors)
    write_json(tmp / "state.json", info)
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def load_checkpoint(
    folder: str | Path,
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer | None = None,
    older_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Load what save_checkpoint wrote into ``modules`` (and ``optimizer``); return state.json.

    ``older_names``: a module's name in folders written before it was renamed, read when its file under the
    current name is absent.
    """
    folder = Path(folder)
    info = read_json(folder / "state.json")
    for name, module in modules.items():
        file = folder / f"{name}.safetensors"
        older = (older_names or {}).get(name)
        if older and not file.is_file() and (folder / f"{older}.safetensors").is_file():
            file = folder / f"{older}.safetensors"
        tensors = load_tensors(file)
        missing, unexpected = module.load_state_dict(tensors, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{file}: does not match the model (missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}); was it written for another configuration?"
            )
    if optimizer is not None and "optimizer" in info:
        _load_optimizer(optimizer, load_tensors(folder / "optimizer.safetensors"), info["optimizer"])
    return info
