"""A tiny but real run folder: rooms at 16 px, 2-step warm-up, 2 created images, 2-step improve."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from diff2in1.fileio import write_json, write_yaml


def build_run(root: Path, backbone: Path, with_improve: bool = True, with_synthetic: bool = True) -> dict[str, Path]:
    """RUN/ as `diff2in1 run` leaves it (warmup/, synthetic/, improve/, metrics.json, config.yaml)."""
    from diff2in1.data.rooms import RoomsConfig, generate_rooms
    from diff2in1.self_improving.improve import ImproveConfig, train_improve
    from diff2in1.training.warmup import WarmupConfig, train_warmup
    from diff2in1.workflow.run import summary_metrics

    rooms = generate_rooms(RoomsConfig(out=str(root / "rooms"), num=8, size=16), progress=False)
    run = root / "run"
    shared = {"data": str(rooms), "dataset": "rooms", "backbone": str(backbone), "batch_size": 2, "progress": False}
    write_yaml(run / "config.yaml", {"out": str(run), **shared, "warmup": {"steps": 2}, "improve": {"steps": 2}})
    train_warmup(WarmupConfig(**shared, channels=8, out=str(run / "warmup"), steps=2))
    if with_synthetic:
        from diff2in1.creation import CreateConfig, create_dataset

        create_dataset(CreateConfig(checkpoint=str(run / "warmup" / "checkpoint"), data=str(rooms),
                                    out=str(run / "synthetic"), steps=4, limit=2, batch_size=2, progress=False))
    if with_improve:
        train_improve(ImproveConfig(**shared, out=str(run / "improve"), steps=2, pseudo_batch_size=2 if with_synthetic else 0,
                                    synthetic=str(run / "synthetic") if with_synthetic else "",
                                    warmup=str(run / "warmup" / "checkpoint")))
        write_json(run / "metrics.json", summary_metrics(run))
    return {"run": run, "rooms": rooms}


@pytest.fixture(scope="session")
def report_run(tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_run(tmp_path_factory.mktemp("report_run"), tiny_pixel_path)


@pytest.fixture
def warmup_only_run(report_run: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the run as it is before creation and improve: warmup/ and config.yaml only."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copytree(report_run["run"] / "warmup", run / "warmup")
    shutil.copy(report_run["run"] / "config.yaml", run / "config.yaml")
    return run
