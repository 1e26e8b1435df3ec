"""`accelerate launch` of a warm-up that trains LoRA adapters: 2 CPU processes train what 1 process trains
(the adapters' gradients averaged over processes, as DDP averages the heads')."""

from __future__ import annotations

from pathlib import Path

import test_multiprocess_warmup as frozen_launch
import torch

from diff2in1.fileio import load_tensors, read_json

LORA = ("--train-backbone", "lora", "--lora-rank", "4")
rooms16 = frozen_launch.rooms16  # the same small rooms set, as a fixture of this module too


def adapter_gradient_gap(a: Path, b: Path) -> float:
    """`gradient_gap` of the adapters' Adam moments alone (the optimizer's last parameter group), relative
    to their own largest entry: the heads' moments would hide a process whose adapters train apart."""
    adapters = len(load_tensors(a / "unet.safetensors"))
    x, y = load_tensors(a / "optimizer.safetensors"), load_tensors(b / "optimizer.safetensors")
    count = len({k.split(".")[0] for k in x})
    moments = [f"{i}.exp_avg" for i in range(count - adapters, count)]
    assert all(k in x for k in moments), f"{a}: no Adam moments of the adapters"
    return max(float((x[k] - y[k]).abs().max()) for k in moments) / max(float(x[k].abs().max()) for k in moments)


def test_two_processes_train_the_adapters_one_process_trains(rooms16, tiny_pixel_path, tmp_path):
    single, double = frozen_launch.one_and_two_processes_agree(rooms16, tiny_pixel_path, tmp_path, *LORA)
    assert adapter_gradient_gap(single / "train_state", double / "train_state") < 1e-3
    one, two = (load_tensors(run / "checkpoint" / "model_unet.safetensors") for run in (single, double))
    assert sorted(one) == sorted(two) and all("lora_" in k for k in one)
    assert any(one[k].abs().max() > 0 for k in one if "lora_B" in k)
    assert all(torch.allclose(one[k], two[k], atol=1e-4) for k in one)
    trained = [read_json(run / "checkpoint" / "perception.json")["backbone"]["trained"] for run in (single, double)]
    assert trained[0]["mode"] == trained[1]["mode"] == "lora"
    assert trained[0]["base_fingerprint"] == trained[1]["base_fingerprint"]
