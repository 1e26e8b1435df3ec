"""Two processes whose Python hash seeds differ (as they do by chance) run the warm-up and improve on every
task: what they gather must not depend on set iteration order."""

from __future__ import annotations

from pathlib import Path

import pytest
from launch_helpers import HASH_SEEDS, accelerate_launch, saved_processes, set_order

from diff2in1.cli.main import main
from diff2in1.fileio import read_json


@pytest.fixture(scope="module")
def rooms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    root = tmp_path_factory.mktemp("hash_seeds") / "rooms"
    return generate_rooms(RoomsConfig(out=str(root), num=10, size=16, seed=3, test_fraction=0.3), progress=False)


def test_the_seeds_order_the_tasks_differently():
    assert set_order(HASH_SEEDS[0]) != set_order(HASH_SEEDS[1])


def _close(one: dict, two: dict) -> None:
    for task, metrics in one.items():
        for name, value in metrics.items():
            assert two[task][name] == pytest.approx(value, rel=1e-3, abs=1e-6), (task, name)


def test_warmup_and_improve_on_every_task_with_different_hash_seeds(rooms, tiny_pixel_path, tmp_path):
    common = ["--data", str(rooms), "--backbone", str(tiny_pixel_path), "--steps", "2", "--batch-size", "4",
              "--progress", "false"]
    warmup = ["warmup", *common, "--channels", "8"]
    assert main([*warmup, "--out", str(tmp_path / "warm1")]) == 0
    result = accelerate_launch([*warmup, "--out", str(tmp_path / "warm2")], hash_seeds=HASH_SEEDS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert saved_processes(tmp_path / "warm2" / "train_state") == 2
    one, two = (read_json(tmp_path / run / "metrics.json")["metrics"] for run in ("warm1", "warm2"))
    assert sorted(one) == ["depth", "edge", "normal", "saliency", "semseg"]  # every task rooms label
    _close(one, two)
    improve = ["improve", *common, "--warmup", str(tmp_path / "warm1" / "checkpoint"), "--synthetic", str(rooms),
               "--pseudo-batch-size", "4", "--views", "2", "--out", str(tmp_path / "improve2")]
    result = accelerate_launch(improve, hash_seeds=HASH_SEEDS)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_json(tmp_path / "improve2" / "metrics.json")["metrics"]
    assert sorted(metrics["theta_e"]) == ["depth", "edge", "normal", "saliency", "semseg"]
