"""`diff2in1 warmup --resume` continues a run from its last saved step."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from perception_helpers import warmup_args

import diff2in1.training.warmup as warmup_module
from diff2in1.cli.main import main


def _log(run: Path) -> list[dict[str, str]]:
    with open(run / "log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_resume_continues_from_the_saved_step(rooms32: Path, tiny_pixel_path: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(warmup_args(rooms32, tiny_pixel_path, run, 4, "--checkpoint-every", "2")) == 0
    assert json.loads((run / "train_state" / "state.json").read_text())["step"] == 4
    assert main(warmup_args(rooms32, tiny_pixel_path, run, 6, "--checkpoint-every", "2", "--resume")) == 0
    assert [int(row["step"]) for row in _log(run)] == [1, 2, 3, 4, 5, 6]
    assert json.loads((run / "train_state" / "state.json").read_text())["step"] == 6
    assert json.loads((run / "checkpoint" / "perception.json").read_text())["step"] == 6
    assert json.loads((run / "metrics.json").read_text())["step"] == 6


def test_resumed_run_repeats_the_uninterrupted_one(rooms32: Path, tiny_pixel_path: Path, tmp_path: Path,
                                                   stop_after_save) -> None:
    """A run stopped after its step-4 save and resumed logs the losses of a run that never stopped."""
    argv = ["--checkpoint-every", "2", "--lr-warmup", "1", "--seed", "1"]
    assert main(warmup_args(rooms32, tiny_pixel_path, tmp_path / "straight", 6, *argv)) == 0

    with stop_after_save(warmup_module, 4):
        main(warmup_args(rooms32, tiny_pixel_path, tmp_path / "stopped", 6, *argv))
    assert main(warmup_args(rooms32, tiny_pixel_path, tmp_path / "stopped", 6, *argv, "--resume")) == 0
    straight, resumed = _log(tmp_path / "straight"), _log(tmp_path / "stopped")
    assert [row["step"] for row in resumed] == [row["step"] for row in straight]
    for a, b in zip(straight, resumed):
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-4), f"step {a['step']}"
        assert float(a["lr"]) == pytest.approx(float(b["lr"]), rel=1e-4), f"step {a['step']}"
