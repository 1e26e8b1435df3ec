"""Every task of NYUD-MT (4) and PASCAL-Context (5) through warm-up, creation, improve, evaluation, the
report and the pipeline output, on tiny fakes of the official folders and a tiny backbone."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diff2in1.fileio import read_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data_readers"))
from readers_fakes import make_nyud_mt, make_pascal_mt  # noqa: E402


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


BENCHMARKS = {
    "nyud_mt": (make_nyud_mt, ["semseg", "depth", "normal", "edge"]),
    "pascal_context": (make_pascal_mt, ["semseg", "normal", "edge", "human_parts", "saliency"]),
}


@pytest.mark.parametrize("dataset", sorted(BENCHMARKS))
def test_every_task_of_the_benchmark_runs_end_to_end(dataset, tiny_pixel_path, tmp_path):
    from diff2in1.perception.pipeline import Diff2in1Pipeline
    from diff2in1.workflow.run import RunConfig, run_pipeline

    make, tasks = BENCHMARKS[dataset]
    root = make(tmp_path / dataset)
    shared = {"data": str(root), "dataset": dataset, "backbone": str(tiny_pixel_path), "batch_size": 2,
              "channels": 8, "progress": False}
    run = run_pipeline(RunConfig(out=str(tmp_path / "run"), shared=shared, warmup={"steps": 2},
                                 create={"steps": 2, "limit": 2, "batch_size": 2},
                                 improve={"steps": 2, "pseudo_batch_size": 2, "views": 2}, control=False,
                                 recipe=False))  # θC labels every task (the recipe: geometry only)
    summary = read_json(run / "metrics.json")
    for stage in ("warmup", "diff2in1"):
        assert sorted(summary[stage]) == sorted(tasks), stage
    if "edge" in tasks:
        assert 0.0 <= summary["diff2in1"]["edge"]["odsF"] <= 1.0
    created = read_json(run / "synthetic" / "meta.json")
    assert sorted(created["tasks"]) == sorted(tasks)
    created_ids = sorted(p.stem for p in (run / "synthetic" / "train" / "image").glob("*.png"))
    assert created_ids
    for task in tasks:  # labels of the created images for every task
        assert sorted(p.stem for p in (run / "synthetic" / "train" / task).glob("*.png")) == created_ids, task
    improve_log = read_csv(run / "improve" / "log.csv")
    assert all(f"pseudo/{task}" in improve_log[0] for task in tasks)
    assert (run / "report" / "index.html").is_file()
    pipe = Diff2in1Pipeline.from_pretrained(run / "improve" / "checkpoint", backbone=tiny_pixel_path)
    photo = np.random.default_rng(0).integers(0, 255, (21, 30, 3), dtype=np.uint8)
    out = pipe(photo)
    for task in tasks:
        assert getattr(out, task).shape[:2] == (21, 30), task
    if "saliency" in tasks:
        assert 0.0 <= out.saliency.min() and out.saliency.max() <= 1.0
        assert out.human_parts.dtype == np.int64 and out.human_parts.max() < 7


def test_pseudo_tasks_take_the_new_tasks(tiny_pixel_path, tmp_path):
    from diff2in1.self_improving.improve import ImproveConfig, train_improve
    from diff2in1.training.warmup import WarmupConfig, train_warmup

    root = make_pascal_mt(tmp_path / "pascal")
    shared = {"data": str(root), "dataset": "pascal_context", "backbone": str(tiny_pixel_path), "batch_size": 2,
              "progress": False}
    warm = train_warmup(WarmupConfig(**shared, out=str(tmp_path / "warmup"), steps=1, channels=8,
                                     loss_weighting="uncertainty"))
    info = read_json(warm / "checkpoint" / "perception.json")
    assert info["model"]["loss_weighting"] == "uncertainty"
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (12, 14, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    out = train_improve(ImproveConfig(**shared, out=str(tmp_path / "improve"), steps=2, pseudo_batch_size=2,
                                      views=2, synthetic="", unlabelled=str(photos),
                                      pseudo_tasks=["edge", "saliency", "human_parts"],
                                      warmup=str(warm / "checkpoint")))
    logged = read_csv(out / "log.csv")[0]
    assert {"pseudo/edge", "pseudo/saliency", "pseudo/human_parts"} <= set(logged)
    assert "pseudo/semseg" not in logged and "pseudo/normal" not in logged
