"""`accelerate launch` of a warm-up that trains LoRA adapters: 2 CPU processes train what 1 process trains
(the adapters' gradients averaged over processes, as DDP averages the heads')."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from launch_helpers import accelerate_launch, gradient_gap, log_rows, log_steps, saved_processes

from diff2in1.cli.main import main
from diff2in1.fileio import load_tensors, read_json


@pytest.fixture(scope="module")
def rooms16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    root = tmp_path_factory.mktemp("mp_lora") / "rooms"
    return generate_rooms(RoomsConfig(out=str(root), num=10, size=16, seed=2, test_fraction=0.3), progress=False)


def warmup_argv(rooms: Path, backbone: Path, out: Path, *extra: str) -> list[str]:
    # Normals only: their loss is a mean over equally many pixels per image, so the mean of two
    # processes' shard losses is the loss of the whole batch (a batch-pooled loss such as SILog is not).
    return ["warmup", "--data", str(rooms), "--backbone", str(backbone), "--out", str(out), "--tasks", "normal",
            "--steps", "4", "--batch-size", "4", "--channels", "8", "--lr", "1e-2", "--lr-warmup", "1",
            "--checkpoint-every", "2", "--progress", "false", "--train-backbone", "lora", "--lora-rank", "4", *extra]


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
    single, double = tmp_path / "one", tmp_path / "two"
    assert main(warmup_argv(rooms16, tiny_pixel_path, single)) == 0
    result = accelerate_launch(warmup_argv(rooms16, tiny_pixel_path, double))
    assert result.returncode == 0, result.stderr[-3000:]
    assert saved_processes(double / "train_state") == 2
    assert log_steps(double / "log.csv") == [1, 2, 3, 4]
    for a, b in zip(log_rows(single / "log.csv"), log_rows(double / "log.csv")):
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-4), a["step"]
    assert gradient_gap(single / "train_state", double / "train_state") < 1e-3
    assert adapter_gradient_gap(single / "train_state", double / "train_state") < 1e-3
    one, two = (load_tensors(run / "checkpoint" / "model_unet.safetensors") for run in (single, double))
    assert sorted(one) == sorted(two) and all("lora_" in k for k in one)
    assert any(one[k].abs().max() > 0 for k in one if "lora_B" in k)
    assert all(torch.allclose(one[k], two[k], atol=1e-4) for k in one)
    trained = [read_json(run / "checkpoint" / "perception.json")["backbone"]["trained"] for run in (single, double)]
    assert trained[0]["mode"] == trained[1]["mode"] == "lora"
    assert trained[0]["base_fingerprint"] == trained[1]["base_fingerprint"]
    m1, m2 = read_json(single / "metrics.json")["metrics"], read_json(double / "metrics.json")["metrics"]
    assert m1["normal"]["mean"] == pytest.approx(m2["normal"]["mean"], rel=1e-4)
