"""`diff2in1 quality fd` and `train-judge` end to end on tiny settings."""

from __future__ import annotations

import argparse
import json

import pytest
from PIL import Image

from diff2in1.backbones.tiny import save_tiny_pixel_unet
from diff2in1.cli.quality import register
from diff2in1.data.rooms.generate import RoomsConfig, generate_rooms
from diff2in1.quality.judge import load_judge


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="diff2in1")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def rooms(tmp_path_factory: pytest.TempPathFactory):
    """10 rooms at 64x64: 8 train, 2 test."""
    return generate_rooms(RoomsConfig(out=str(tmp_path_factory.mktemp("rooms")), num=10, seed=7), progress=False)


def test_fd_scores_a_pixel_model(tmp_path, rooms) -> None:
    model = save_tiny_pixel_unet(tmp_path / "tiny", sample_size=64)
    out, grid = tmp_path / "fd.json", tmp_path / "grid.png"
    argv = ["quality", "fd", "--model", str(model), "--data", str(rooms), "--split", "train", "--num", "4",
            "--steps", "2", "--device", "cpu", "--out", str(out), "--grid", str(grid)]
    assert _run(argv) == 0
    report = json.loads(out.read_text())
    assert report["num_generated"] == 4 and report["num_real"] == 8
    assert report["frechet"] > 0 and 0 <= report["hist_l1"] <= 2
    assert len(report["class_hist_generated"]) == len(report["class_hist_real"]) == 6
    assert report["config"]["steps"] == 2
    assert Image.open(grid).size == (4 * 64, 64)


def test_fd_of_two_real_sets_is_small_against_noise(tmp_path, rooms) -> None:
    real = tmp_path / "real.json"
    _run(["quality", "fd", "--model", str(rooms), "--data", str(rooms), "--num", "8", "--out", str(real)])
    noise = tmp_path / "noise.json"
    _run(["quality", "fd", "--model", str(save_tiny_pixel_unet(tmp_path / "tiny", sample_size=64)),
          "--data", str(rooms), "--num", "4", "--steps", "1", "--out", str(noise)])
    assert json.loads(real.read_text())["frechet"] < json.loads(noise.read_text())["frechet"]


def test_train_judge_writes_a_loadable_judge(tmp_path, rooms) -> None:
    out = tmp_path / "judge"
    assert _run(["quality", "train-judge", "--data", str(rooms), "--out", str(out), "--steps", "2",
                 "--batch-size", "4"]) == 0
    judge = load_judge(out)
    assert judge.info["trained_steps"] == 2 and set(judge.info["test_scores"]) == {"miou", "pixel_acc"}
    assert (out / "log.csv").is_file()
