"""Two processes whose Python hash seeds differ (as they do by chance) run the warm-up, create, improve and
evaluate on every task: what they gather must not depend on set iteration order."""

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


def common(rooms: Path, backbone: Path) -> list[str]:
    return ["--data", str(rooms), "--backbone", str(backbone), "--steps", "2", "--batch-size", "4", "--progress", "false"]


@pytest.fixture(scope="module")
def warm(rooms, tiny_pixel_path, tmp_path_factory) -> Path:
    """A one-process warm-up on every task rooms labels."""
    out = tmp_path_factory.mktemp("hash_seeds_warm") / "warm1"
    assert main(["warmup", *common(rooms, tiny_pixel_path), "--channels", "8", "--out", str(out)]) == 0
    return out


def test_warmup_and_improve_on_every_task_with_different_hash_seeds(rooms, tiny_pixel_path, warm, tmp_path):
    result = accelerate_launch(["warmup", *common(rooms, tiny_pixel_path), "--channels", "8", "--out",
                                str(tmp_path / "warm2")], hash_seeds=HASH_SEEDS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert saved_processes(tmp_path / "warm2" / "train_state") == 2
    one, two = (read_json(run / "metrics.json")["metrics"] for run in (warm, tmp_path / "warm2"))
    assert sorted(one) == ["depth", "edge", "normal", "saliency", "semseg"]  # every task rooms labels
    _close(one, two)
    improve = ["improve", *common(rooms, tiny_pixel_path), "--warmup", str(warm / "checkpoint"), "--synthetic",
               str(rooms), "--pseudo-batch-size", "4", "--views", "2"]
    assert main([*improve, "--out", str(tmp_path / "improve1")]) == 0
    result = accelerate_launch([*improve, "--out", str(tmp_path / "improve2")], hash_seeds=HASH_SEEDS)
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = (read_json(tmp_path / run / "metrics.json")["metrics"] for run in ("improve1", "improve2"))
    assert sorted(two["theta_e"]) == ["depth", "edge", "normal", "saliency", "semseg"]
    for head in ("theta_e", "theta_c"):
        _close(one[head], two[head])


def test_create_and_evaluate_with_different_hash_seeds(rooms, warm, tmp_path):
    create = ["create", "--checkpoint", str(warm / "checkpoint"), "--data", str(rooms), "--per-image", "1",
              "--steps", "3", "--batch-size", "3", "--progress", "false"]
    assert main([*create, "--out", str(tmp_path / "created1")]) == 0
    result = accelerate_launch([*create, "--out", str(tmp_path / "created2")], hash_seeds=HASH_SEEDS)
    assert result.returncode == 0, result.stderr[-3000:]
    for folder in ("image", "normal", "depth", "semseg"):  # every sample once, as one process made it
        made = {p.name: p.read_bytes() for p in (tmp_path / "created1" / "train" / folder).iterdir()}
        assert made and made == {p.name: p.read_bytes() for p in (tmp_path / "created2" / "train" / folder).iterdir()}
    evaluate = ["evaluate", "--checkpoint", str(warm / "checkpoint"), "--data", str(rooms), "--flip", "true",
                "--which", "theta_e", "theta_c", "--batch-size", "2"]
    assert main([*evaluate, "--out", str(tmp_path / "metrics1.json")]) == 0
    result = accelerate_launch([*evaluate, "--out", str(tmp_path / "metrics2.json")], hash_seeds=HASH_SEEDS)
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = (read_json(tmp_path / name)["metrics"] for name in ("metrics1.json", "metrics2.json"))
    assert sorted(one) == ["theta_c", "theta_c_tta", "theta_e", "theta_e_tta"]
    for head in one:
        _close(one[head], two[head])
    _close(read_json(warm / "metrics.json")["metrics"], one["theta_e"])  # and it scores as the warm-up did
