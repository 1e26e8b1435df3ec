"""A run killed with SIGKILL and resumed ends where an uninterrupted run ends, each step logged once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from launch_helpers import log_rows, log_steps, run_killed

from diff2in1.cli.main import main
from diff2in1.fileio import load_tensors


@pytest.fixture(scope="module")
def rooms16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    root = tmp_path_factory.mktemp("kill") / "rooms"
    return generate_rooms(RoomsConfig(out=str(root), num=10, size=16, seed=4, test_fraction=0.3), progress=False)


def test_killed_and_resumed_warmup_matches_the_uninterrupted_run(rooms16, tiny_pixel_path, tmp_path):
    def argv(out: Path, *extra: str) -> list[str]:
        return ["warmup", "--data", str(rooms16), "--backbone", str(tiny_pixel_path), "--out", str(out),
                "--steps", "8", "--batch-size", "2", "--channels", "8", "--lr", "1e-2", "--checkpoint-every", "3",
                "--eval-every", "2", "--cache-storage", "disk", "--progress", "false", *extra]

    assert main(argv(tmp_path / "straight")) == 0
    run_killed(argv(tmp_path / "killed"), step=5)  # saved at 3, logged 4 and 5, then killed
    assert log_steps(tmp_path / "killed" / "log.csv") == [1, 2, 3, 4, 5]
    assert main(argv(tmp_path / "killed", "--resume")) == 0
    assert log_steps(tmp_path / "killed" / "log.csv") == list(range(1, 9))
    assert log_steps(tmp_path / "killed" / "eval.csv") == log_steps(tmp_path / "straight" / "eval.csv") == [2, 4, 6, 8]
    for a, b in zip(log_rows(tmp_path / "straight" / "log.csv"), log_rows(tmp_path / "killed" / "log.csv")):
        assert a["total"] == b["total"], a["step"]
    straight = load_tensors(tmp_path / "straight" / "checkpoint" / "model.safetensors")
    resumed = load_tensors(tmp_path / "killed" / "checkpoint" / "model.safetensors")
    assert all(torch.allclose(straight[k], resumed[k], atol=1e-6) for k in straight)


def test_log_with_tensorboard_writes_events_beside_log_csv(rooms16, tiny_pixel_path, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert main(["warmup", "--data", str(rooms16), "--backbone", str(tiny_pixel_path), "--out", str(out),
                 "--steps", "3", "--batch-size", "2", "--channels", "8", "--progress", "false",
                 "--log-with", "tensorboard"]) == 0
    events = EventAccumulator(str(next((out / "warmup").rglob("events.out.tfevents.*")).parent)).Reload()
    assert [e.step for e in events.Scalars("train/total")] == log_steps(out / "log.csv") == [1, 2, 3]
    assert "eval/normal/mean" in events.Tags()["scalars"]
