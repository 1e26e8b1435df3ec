"""`accelerate launch` of the self-improving stage, and a SIGKILL in the middle of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from launch_helpers import accelerate_launch, gradient_gap, log_rows, log_steps, saved_processes
from test_kill_resume import run_killed

from diff2in1.cli.main import main
from diff2in1.fileio import load_tensors, read_json


@pytest.fixture(scope="module")
def warm(tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    root = tmp_path_factory.mktemp("mp_improve")
    rooms = generate_rooms(RoomsConfig(out=str(root / "rooms"), num=10, size=16, seed=5), progress=False)
    assert main(["warmup", "--data", str(rooms), "--backbone", str(tiny_pixel_path), "--out", str(root / "warmup"),
                 "--tasks", "normal", "--steps", "2", "--batch-size", "2", "--channels", "8", "--progress", "false"]) == 0
    return {"rooms": rooms, "checkpoint": root / "warmup" / "checkpoint", "backbone": tiny_pixel_path}


def improve_argv(warm: dict[str, Path], out: Path, *extra: str) -> list[str]:
    # Real images stand in for created ones. Normals with hard targets: a mean over equal pixel counts, so
    # the mean of the processes' losses is the loss of the global batch (soft targets weight pixels by
    # θC's confidence, normalised over the batch: close on N processes, not equal).
    return ["improve", "--data", str(warm["rooms"]), "--backbone", str(warm["backbone"]), "--warmup",
            str(warm["checkpoint"]), "--synthetic", str(warm["rooms"]), "--out", str(out), "--tasks", "normal",
            "--batch-size", "4", "--pseudo-batch-size", "4", "--views", "3", "--soft-labels", "false", "--lr", "1e-2",
            "--lr-warmup", "0", "--eval-flip", "false", "--progress", "false", *extra]


def _gap(a: Path, b: Path, name: str) -> float:
    x, y = load_tensors(a / "checkpoint" / name), load_tensors(b / "checkpoint" / name)
    return max(float((x[k] - y[k]).abs().max()) for k in x)


def test_two_processes_improve_like_one(warm, tmp_path):
    argv = ("--steps", "3", "--ema-decay", "0.5")
    assert main(improve_argv(warm, tmp_path / "one", *argv)) == 0
    result = accelerate_launch(improve_argv(warm, tmp_path / "two", *argv))
    assert result.returncode == 0, result.stderr[-3000:]
    assert saved_processes(tmp_path / "two" / "train_state") == 2
    assert log_steps(tmp_path / "two" / "log.csv") == [1, 2, 3]
    for a, b in zip(log_rows(tmp_path / "one" / "log.csv"), log_rows(tmp_path / "two" / "log.csv")):
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-4), a["step"]
    moved = max(float((load_tensors(tmp_path / "one" / "checkpoint" / "model.safetensors")[k] - v).abs().max())
                for k, v in load_tensors(warm["checkpoint"] / "model.safetensors").items())
    assert gradient_gap(tmp_path / "one" / "train_state", tmp_path / "two" / "train_state") < 1e-3  # θE
    # θC blends θE's weights, so it carries their rounding-sized Adam steps (see gradient_gap): ~moved/150
    assert 1e-2 < moved and _gap(tmp_path / "one", tmp_path / "two", "theta_c.safetensors") < moved / 20
    # each process scores its share of the test split; the gathered metrics are those of the whole set
    one, two = (read_json(tmp_path / run / "metrics.json")["metrics"] for run in ("one", "two"))
    for head in ("theta_e", "theta_c"):
        assert two[head]["normal"] == pytest.approx(one[head]["normal"], rel=1e-3), head


def test_killed_and_resumed_improve_with_a_sparse_ema_matches_the_straight_run(warm, tmp_path):
    # θC blends every 10 steps: saved at 6, killed after 8, the resumed run must blend at 10 (not at 16).
    argv = ("--steps", "12", "--ema-every", "10", "--ema-decay", "0.5", "--checkpoint-every", "6")
    assert main(improve_argv(warm, tmp_path / "straight", *argv)) == 0
    run_killed(improve_argv(warm, tmp_path / "killed", *argv), step=8)
    assert log_steps(tmp_path / "killed" / "log.csv") == list(range(1, 9))
    assert main(improve_argv(warm, tmp_path / "killed", *argv, "--resume")) == 0
    assert log_steps(tmp_path / "killed" / "log.csv") == list(range(1, 13))
    for name in ("model.safetensors", "theta_c.safetensors"):
        assert _gap(tmp_path / "straight", tmp_path / "killed", name) < 1e-6, name
