"""`diff2in1 evaluate` scores a checkpoint as the run that made it did: one evaluation, wherever it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from diff2in1.cli.main import main
from diff2in1.fileio import read_json


@pytest.fixture(scope="module")
def runs(tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    root = tmp_path_factory.mktemp("reproduce")
    rooms = generate_rooms(RoomsConfig(out=str(root / "rooms"), num=12, size=16, seed=4, test_fraction=0.4),
                           progress=False)
    common = ["--data", str(rooms), "--backbone", str(tiny_pixel_path), "--batch-size", "2", "--progress", "false"]
    assert main(["warmup", *common, "--out", str(root / "warmup"), "--steps", "3", "--channels", "8"]) == 0
    # improve's metrics come from its cached view features, evaluate's from the UNet: they must agree
    assert main(["improve", *common, "--out", str(root / "improve"), "--steps", "2", "--warmup",
                 str(root / "warmup" / "checkpoint"), "--synthetic", str(rooms), "--pseudo-batch-size", "2",
                 "--views", "2", "--ema-decay", "0.5", "--lr", "1e-2", "--lr-warmup", "0"]) == 0
    return {"rooms": rooms, "warmup": root / "warmup", "improve": root / "improve", "root": root}


def _evaluate(runs: dict[str, Path], run: str, *extra: str) -> dict:
    out = runs["root"] / f"{run}-{'-'.join(extra) or 'plain'}.json"
    assert main(["evaluate", "--checkpoint", str(runs[run] / "checkpoint"), "--data", str(runs["rooms"]),
                 "--out", str(out), *extra]) == 0
    return read_json(out)["metrics"]


def _same(found: dict, recorded: dict) -> None:
    assert sorted(found) == sorted(recorded)
    for task, metrics in recorded.items():
        for name, value in metrics.items():
            assert found[task][name] == pytest.approx(value, rel=1e-4, abs=1e-9), (task, name)


def test_evaluate_reproduces_the_warmups_metrics(runs):
    recorded = read_json(runs["warmup"] / "metrics.json")["metrics"]
    assert sorted(recorded) == ["depth", "edge", "normal", "saliency", "semseg"]  # every task rooms label
    _same(_evaluate(runs, "warmup")["theta_e"], recorded)


@pytest.mark.parametrize("flip", [False, True])
def test_evaluate_reproduces_improves_theta_e_and_theta_c(runs, flip):
    recorded = read_json(runs["improve"] / "metrics.json")["metrics"]
    found = _evaluate(runs, "improve", "--which", "theta_e", "theta_c", *(["--flip"] if flip else []))
    heads = ["theta_c", "theta_e"] + (["theta_c_tta", "theta_e_tta"] if flip else [])
    assert sorted(found) == sorted(heads)
    assert recorded["theta_e"] != recorded["theta_c"]
    for head in heads:
        _same(found[head], recorded[head])
