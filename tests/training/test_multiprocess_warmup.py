"""`accelerate launch` of the warm-up: 2 CPU processes train the head a single process trains."""

from __future__ import annotations

from pathlib import Path

import pytest
from launch_helpers import accelerate_launch, gradient_gap, log_rows, log_steps, saved_processes

from diff2in1.cli.main import main
from diff2in1.fileio import read_json


@pytest.fixture(scope="module")
def rooms16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    root = tmp_path_factory.mktemp("mp") / "rooms"
    return generate_rooms(RoomsConfig(out=str(root), num=10, size=16, seed=2, test_fraction=0.3), progress=False)


def warmup_argv(rooms: Path, backbone: Path, out: Path, *extra: str) -> list[str]:
    # Normals only: their loss is a mean over equally many pixels per image, so the mean of two
    # processes' shard losses is the loss of the whole batch (a batch-pooled loss such as SILog is not).
    return ["warmup", "--data", str(rooms), "--backbone", str(backbone), "--out", str(out), "--tasks", "normal",
            "--steps", "4", "--batch-size", "4", "--channels", "8", "--lr", "1e-2", "--lr-warmup", "1",
            "--checkpoint-every", "2", "--progress", "false", *extra]


@pytest.mark.parametrize("storage", ["ram", "disk"])
def test_two_processes_train_the_head_one_process_trains(rooms16, tiny_pixel_path, tmp_path, storage):
    one_and_two_processes_agree(rooms16, tiny_pixel_path, tmp_path, "--cache-storage", storage)


def one_and_two_processes_agree(rooms: Path, backbone: Path, tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    """Warm up on 1 and on 2 processes; their losses, gradients and metrics agree. Returns both run folders."""
    single, double = tmp_path / "one", tmp_path / "two"
    assert main(warmup_argv(rooms, backbone, single, *extra)) == 0
    result = accelerate_launch(warmup_argv(rooms, backbone, double, *extra))
    assert result.returncode == 0, result.stderr[-3000:]
    assert saved_processes(double / "train_state") == 2
    assert log_steps(double / "log.csv") == [1, 2, 3, 4]
    for a, b in zip(log_rows(single / "log.csv"), log_rows(double / "log.csv")):
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-4), a["step"]
    assert gradient_gap(single / "train_state", double / "train_state") < 1e-3
    m1, m2 = read_json(single / "metrics.json")["metrics"], read_json(double / "metrics.json")["metrics"]
    assert m1["normal"]["mean"] == pytest.approx(m2["normal"]["mean"], rel=1e-4)
    return single, double


def test_two_processes_create_every_sample_once(rooms16, tiny_pixel_path, tmp_path):
    assert main(warmup_argv(rooms16, tiny_pixel_path, tmp_path / "warm", "--steps", "1")) == 0
    args = ["create", "--checkpoint", str(tmp_path / "warm" / "checkpoint"), "--data", str(rooms16), "--out",
            str(tmp_path / "created"), "--per-image", "2", "--steps", "4", "--batch-size", "3", "--progress", "false"]
    result = accelerate_launch(args)
    assert result.returncode == 0, result.stderr[-3000:]
    created = sorted(p.stem for p in (tmp_path / "created" / "train" / "image").iterdir())
    sources = len(list((rooms16 / "train" / "image").iterdir()))
    assert len(created) == len(set(created)) == 2 * sources
