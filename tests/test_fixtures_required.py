"""A missing fixture fails under CI instead of skipping (a skipped test passes without having run)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.mark.parametrize(("env", "outcome"), [({"CI": "true"}, {"errors": 1}),
                                              ({"DIFF2IN1_REQUIRE_FIXTURES": "1"}, {"errors": 1}),
                                              ({}, {"skipped": 1})])
def test_missing_clip_vocabulary_fails_under_ci_and_skips_otherwise(pytester, monkeypatch, env, outcome):
    monkeypatch.setitem(sys.modules, "open_clip", None)  # find_spec("open_clip") -> None: not installed
    for name in ("CI", "DIFF2IN1_REQUIRE_FIXTURES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile("def test_needs_sd(tiny_sd_path):\n    assert tiny_sd_path.is_dir()\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(**outcome)
    assert "CLIP's BPE vocabulary" in result.stdout.str()
