"""Bad input stops warmup, evaluate and predict with a message that names the problem (exit code 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from perception_helpers import warmup_args
from PIL import Image

from diff2in1.cli.main import main
from diff2in1.perception.checkpoint import load_perception

CORRUPT_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40  # a PNG signature followed by garbage


def _error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"diff2in1 {argv[0]}: error: " in err
    return err


def test_predict_names_a_corrupt_image(pixel_checkpoint: Path, tmp_path: Path, capsys) -> None:
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(images / "good.png")
    (images / "broken.png").write_bytes(CORRUPT_PNG)
    err = _error(capsys, ["predict", "--checkpoint", str(pixel_checkpoint), "--input", str(images),
                          "--out", str(tmp_path / "out")])
    assert str(images / "broken.png") in err and "corrupt" in err


def test_warmup_names_a_corrupt_training_image(rooms32: Path, tiny_pixel_path: Path, tmp_path: Path,
                                               capsys) -> None:
    data = tmp_path / "rooms"
    shutil.copytree(rooms32, data)
    broken = sorted((data / "train" / "image").glob("*.png"))[4]
    broken.write_bytes(CORRUPT_PNG)
    # one batch of every training image, so the broken one is read whatever the order
    argv = warmup_args(data, tiny_pixel_path, tmp_path / "run", 1) + ["--batch-size", "9"]
    err = _error(capsys, argv)
    assert str(broken) in err and "corrupt" in err


def test_evaluate_on_data_without_the_checkpoint_tasks_names_both(pixel_checkpoint: Path, rooms32: Path,
                                                                  tmp_path: Path, capsys) -> None:
    data = tmp_path / "depth_only"
    shutil.copytree(rooms32, data)
    meta = json.loads((data / "meta.json").read_text())
    (data / "meta.json").write_text(json.dumps({**meta, "tasks": ["depth"]}))
    err = _error(capsys, ["evaluate", "--checkpoint", str(pixel_checkpoint), "--data", str(data),
                          "--dataset", "folder"])
    assert "['depth']" in err and "normal" in err and "semseg" in err and "meta.json" in err


def test_loading_a_checkpoint_for_another_task_set_names_both(pixel_checkpoint: Path) -> None:
    with pytest.raises(ValueError, match=r"trained for tasks \['normal', 'depth', 'semseg', 'edge', 'saliency'\].*\['depth'\]"):
        load_perception(pixel_checkpoint, tasks=["depth"])


def test_resume_with_other_tasks_names_both_task_sets(rooms32: Path, tiny_pixel_path: Path, tmp_path: Path,
                                                     capsys) -> None:
    out = tmp_path / "run"
    assert main(warmup_args(rooms32, tiny_pixel_path, out, 1, "--tasks", "depth")) == 0
    capsys.readouterr()
    argv = warmup_args(rooms32, tiny_pixel_path, out, 2, "--tasks", "normal", "depth", "--resume")
    err = _error(capsys, argv)
    assert "['depth']" in err and "['normal', 'depth']" in err


def test_config_file_with_an_unknown_task_lists_the_known_ones(tmp_path: Path, capsys) -> None:
    config = tmp_path / "warmup.yaml"
    config.write_text("tasks: [normals]\nsteps: 1\n")
    err = _error(capsys, ["warmup", "--config", str(config), "--out", str(tmp_path / "run")])
    assert "'normals'" in err and "['normal', 'depth', 'semseg', 'edge', 'saliency', 'human_parts']" in err
    assert str(config) in err
    assert not (tmp_path / "run").exists()


def test_config_file_with_an_unknown_option_names_it(tmp_path: Path, capsys) -> None:
    config = tmp_path / "warmup.yaml"
    config.write_text("stepz: 3\n")
    err = _error(capsys, ["warmup", "--config", str(config), "--out", str(tmp_path / "run")])
    assert str(config) in err and "'stepz'" in err and "'steps'" in err


def test_existing_run_folder_needs_resume(pixel_checkpoint: Path, rooms32: Path, tiny_pixel_path: Path,
                                         capsys) -> None:
    run = pixel_checkpoint.parent
    log = (run / "log.csv").read_text()
    err = _error(capsys, warmup_args(rooms32, tiny_pixel_path, run, 4))
    assert str(run) in err and "--resume" in err
    assert (run / "log.csv").read_text() == log
