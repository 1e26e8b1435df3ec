"""Helpers of the perception tests."""

from __future__ import annotations

from pathlib import Path


def warmup_args(data: Path, backbone: Path, out: Path, steps: int = 2, *extra: str) -> list[str]:
    """`diff2in1 warmup` options for a run of a few seconds (narrow heads, no progress bars)."""
    return ["warmup", "--data", str(data), "--backbone", str(backbone), "--out", str(out),
            "--steps", str(steps), "--batch-size", "2", "--channels", "8", "--progress", "false", *extra]
