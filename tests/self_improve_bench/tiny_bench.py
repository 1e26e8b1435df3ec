"""bench/self_improve.py at toy size: a rooms folder, a run config and stages of 2 steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


def tiny_bench_argv(tmp_path: Path, backbone: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> list[str]:
    """The arguments of a 4-label, 1-seed run on ``backbone`` without a manifest (add --arms), stages and
    warm-ups of 2 steps. 264 training images: 4 labelled, 250 for validation, 10 left as the pool."""
    import self_improve_runner
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    data = generate_rooms(RoomsConfig(out=str(tmp_path / "data"), num=280, size=size, seed=3, test_fraction=0.05),
                          progress=False)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"batch_size": 2, "channels": 8, "warmup": {"steps": 2},
                                      "create": {"steps": 4, "batch_size": 4}, "improve": {"teacher_every": 1}}))
    monkeypatch.setattr(self_improve_runner, "STAGE2_STEPS", 2)
    monkeypatch.setattr(self_improve_runner, "LORA_WARMUP_STEPS", 2)
    monkeypatch.setattr(self_improve_runner, "BENCH_IMPROVE", {**self_improve_runner.BENCH_IMPROVE, "steps": 2, "views": 2})
    return ["--dataset", "rooms", "--data", str(data), "--backbone", str(backbone), "--config", str(config),
            "--labelled", "4", "--seeds", "0", "--manifest", "", "--work", str(tmp_path / "work"),
            "--results", str(tmp_path / "results")]
