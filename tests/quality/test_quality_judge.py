"""The shipped rooms judge: hash-checked loading, output shapes, and a real accuracy check on new rooms."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from diff2in1.data.rooms.generate import RoomsConfig, render_index
from diff2in1.quality.frechet import class_histogram, embedding_stats
from diff2in1.quality.judge import evaluate_judge, judge_path, load_judge


@pytest.fixture(scope="module")
def judge():
    return load_judge()


@pytest.fixture(scope="module")
def fresh_rooms() -> tuple[torch.Tensor, torch.Tensor]:
    """12 rooms rendered now with a seed neither the judge (2000) nor the backbone (1000) saw."""
    config = RoomsConfig(size=64, seed=4242)
    renders = [render_index(i, config) for i in range(12)]
    images = torch.from_numpy(np.stack([r["image"] for r in renders])).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(np.stack([r["semseg"] for r in renders]).astype(np.int64))
    return images, labels


def test_shipped_judge_loads_and_predicts_shapes(judge) -> None:
    assert judge.info["classes"] == ["floor", "wall", "ceiling", "box", "sphere", "cylinder"]
    logits, embedding = judge(torch.zeros(2, 3, 64, 64))
    assert logits.shape == (2, 6, 64, 64) and embedding.shape == (2, judge.embedding_dim)
    assert (judge_path() / "model.safetensors").stat().st_size < 3_000_000


def test_a_modified_judge_file_is_refused(tmp_path) -> None:
    folder = shutil.copytree(judge_path(), tmp_path / "judge")
    (folder / "config.json").write_text((folder / "config.json").read_text() + " ")
    with pytest.raises(ValueError, match="config.json"):
        load_judge(folder)


def test_judge_segments_fresh_rooms(judge, fresh_rooms) -> None:
    images, labels = fresh_rooms
    assert images.dtype == torch.uint8 and labels.shape == (12, 64, 64)
    scores = evaluate_judge(judge, images, labels)
    assert scores["pixel_acc"] > 0.8, scores


def test_statistics_of_real_rooms(judge, fresh_rooms) -> None:
    images = fresh_rooms[0]
    mu, sigma = embedding_stats(judge, images)
    assert mu.shape == (judge.embedding_dim,) and sigma.shape == (judge.embedding_dim,) * 2
    hist = class_histogram(judge, images)
    assert hist.shape == (6,) and hist.sum() == pytest.approx(1.0)
    assert hist[1] > 0.2  # walls cover a large part of every room
