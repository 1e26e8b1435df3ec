"""`diff2in1 pretrain` stopped and resumed trains the UNet an uninterrupted run trains, on 1 or 2 processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from launch_helpers import accelerate_launch, gradient_gap, saved_processes
from PIL import Image

import diff2in1.training.pretrain as pretrain_module
from diff2in1.cli.main import main
from diff2in1.fileio import load_tensors, read_json


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pretrain_images")
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def argv(images: Path, out: Path, steps: int) -> list[str]:
    return ["pretrain", "--data", str(images), "--out", str(out), "--size", "16", "--steps", str(steps),
            "--batch-size", "4", "--block-out-channels", "16", "32", "--layers-per-block", "1",
            "--attention-levels", "1", "--warmup-steps", "1", "--sample-every", "1000", "--checkpoint-every", "2",
            "--lr", "1e-2"]


class Stop(Exception):
    pass


def test_stopped_and_resumed_pretrain_matches_the_straight_run(images, tmp_path, monkeypatch):
    assert main(argv(images, tmp_path / "straight", 4)) == 0
    save = pretrain_module._save

    def save_then_stop(out, trainer, config):
        save(out, trainer, config)
        raise Stop

    with monkeypatch.context() as patch:
        patch.setattr(pretrain_module, "_save", save_then_stop)
        with pytest.raises(Stop):
            main(argv(images, tmp_path / "stopped", 4))
    assert read_json(tmp_path / "stopped" / "checkpoint" / "state.json")["step"] == 2
    assert main(argv(images, tmp_path / "stopped", 4)) == 0
    state = read_json(tmp_path / "stopped" / "checkpoint" / "state.json")
    assert state["step"] == 4 and state["ema_state"]["calls"] == 4
    a = load_tensors(tmp_path / "straight" / "checkpoint" / "ema.safetensors")
    b = load_tensors(tmp_path / "stopped" / "checkpoint" / "ema.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_two_processes_pretrain_like_one(images, tmp_path):
    assert main(argv(images, tmp_path / "one", 2)) == 0
    result = accelerate_launch(argv(images, tmp_path / "two", 2))
    assert result.returncode == 0, result.stderr[-3000:]
    assert saved_processes(tmp_path / "two" / "checkpoint") == 2
    assert gradient_gap(tmp_path / "one" / "checkpoint", tmp_path / "two" / "checkpoint") < 1e-3
    assert (tmp_path / "two" / "model" / "unet").is_dir()
