"""bench/memory.py's child runs warm-up and improve through today's API (a renamed module broke it once)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

MEMORY = Path(__file__).resolve().parents[2] / "bench" / "memory.py"


@pytest.fixture(scope="module")
def memory():
    spec = importlib.util.spec_from_file_location("bench_memory", MEMORY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("storage", ["ram", "disk"])
def test_a_warmup_then_an_improve_report_peak_memory_and_epoch_times(memory, tmp_path, storage):
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    data = str(generate_rooms(RoomsConfig(out=str(tmp_path / "rooms"), num=6, size=16, seed=0, test_fraction=0.34),
                              progress=False))
    base = {"backbone": "embedded", "batch_size": 2, "num_workers": 0, "threads": 1, "work": str(tmp_path),
            "epochs": 1, "flip": True, "num": 4, "storage": storage, "data": data}
    warm = memory.child({**base, "stage": "warmup", "out": str(tmp_path / "warm")})
    improved = memory.child({**base, "stage": "improve", "out": str(tmp_path / "improve"),
                             "warmup": str(tmp_path / "warm" / "checkpoint")})
    for row in (warm, improved):
        assert row["peak_rss_mb"] >= row["baseline_rss_mb"] > 0
        assert len(row["epoch_s"]) == 1 and row["epoch_s"][0] > 0
