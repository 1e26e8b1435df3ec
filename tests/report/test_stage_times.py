"""`diff2in1 run` times each stage, prints it, and keeps the times in RUN/timings.json for the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diff2in1.workflow.run import StageTimer


def test_stage_timer_prints_records_and_keeps_an_earlier_runs_stages(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "timings.json"
    path.write_text(json.dumps({"warmup": 100.0}))  # an interrupted run finished its warm-up
    timer = StageTimer(path)
    assert timer.run("create", lambda n: n * 2, 21) == 42
    saved = json.loads(path.read_text())
    assert list(saved) == ["warmup", "create"] and saved["warmup"] == 100.0 and 0 <= saved["create"] < 5
    assert "stage create:" in capsys.readouterr().out
