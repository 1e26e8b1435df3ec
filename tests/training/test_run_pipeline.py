"""`diff2in1 run CONFIG`: warm-up → create → improve → metrics in one folder, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from diff2in1.cli.main import main
from diff2in1.fileio import read_json
from diff2in1.workflow.run import RunConfig, load_run_config, stage_configs


def _write_config(tmp_path: Path, backbone: Path) -> Path:
    config = {
        "out": str(tmp_path / "run"), "rooms": {"num": 10, "size": 16, "seed": 1, "test_fraction": 0.3},
        "data": str(tmp_path / "rooms"), "backbone": str(backbone), "num_labelled": 4, "batch_size": 2,
        "channels": 8, "progress": False, "report": False,
        "warmup": {"steps": 2}, "create": {"steps": 4, "batch_size": 4}, "improve": {"steps": 2},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_writes_warmup_and_diff2in1_metrics(tmp_path, tiny_pixel_path):
    config = _write_config(tmp_path, tiny_pixel_path)
    assert main(["run", str(config)]) == 0
    metrics = read_json(tmp_path / "run" / "metrics.json")
    for name in ("warmup", "diff2in1"):
        assert set(metrics[name]) == {"normal", "depth", "semseg", "edge", "saliency"}
        assert set(metrics[name]["depth"]) == {"abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3"}
    created = read_json(tmp_path / "run" / "synthetic" / "meta.json")
    assert created["synthetic"] is True
    assert len(list((tmp_path / "run" / "synthetic" / "train" / "image").iterdir())) == 4
    assert list((tmp_path / "run" / "features").glob("v[01]/*.safetensors"))  # the warm-up's, for improve too
    # A second run reuses every finished stage.
    before = (tmp_path / "run" / "improve" / "metrics.json").stat().st_mtime_ns
    assert main(["run", str(config)]) == 0
    assert (tmp_path / "run" / "improve" / "metrics.json").stat().st_mtime_ns == before


def test_unknown_key_in_run_config_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: x\nlabeled: 5\n")
    with pytest.raises(ValueError, match="labeled"):
        load_run_config(path)


def test_warmup_and_improve_share_the_runs_feature_cache(tmp_path):
    warmup, _, improve = stage_configs(RunConfig(out=str(tmp_path / "run")))
    assert warmup.cache_dir == improve.cache_dir == str(tmp_path / "run" / "features")
    warmup, _, improve = stage_configs(RunConfig(out=str(tmp_path / "run"), shared={"cache_dir": str(tmp_path / "f")}))
    assert warmup.cache_dir == improve.cache_dir == str(tmp_path / "f")
