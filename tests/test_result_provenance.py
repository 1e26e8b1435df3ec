"""Every result file under bench/results/ and docs/ says how it was made: command, git commit, machine.

JSON result files hold the three fields at their top, and a table X.md beside such an X.json is covered by
it; the others (pictures, logs, JSON files keyed by data) are listed in docs/provenance.json. Prose (docs/**/*.md) and scripts (*.py) are not results.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "docs" / "provenance.json"
FIELDS = ("command", "git_commit", "machine")


def result_files() -> list[Path]:
    files = [p for p in (ROOT / "bench" / "results").rglob("*") if p.is_file()]
    files += [p for p in (ROOT / "docs").rglob("*") if p.is_file() and p.suffix not in (".md", ".py")]
    return sorted(p for p in files if p != MANIFEST)


def _self_described(path: Path) -> bool:
    if path.suffix != ".json":
        return False
    data = json.loads(path.read_text())
    return isinstance(data, dict) and all(str(data.get(key) or "").strip() for key in FIELDS)


def test_every_result_file_records_its_command_commit_and_machine():
    listed = json.loads(MANIFEST.read_text())["files"]
    missing = []
    for path in result_files():
        name = str(path.relative_to(ROOT))
        entry = listed.get(name, {})
        covered = _self_described(path) or (path.suffix == ".md" and _self_described(path.with_suffix(".json")))
        if not covered and not all(str(entry.get(key) or "").strip() for key in FIELDS):
            missing.append(name)
    assert not missing, (f"result files without command / git_commit / machine: {missing}; add the fields "
                         f"to the JSON or an entry to {MANIFEST.relative_to(ROOT)}")


def test_the_manifest_lists_only_files_that_exist():
    listed = json.loads(MANIFEST.read_text())["files"]
    gone = sorted(name for name in listed if not (ROOT / name).is_file())
    assert not gone, f"{MANIFEST.relative_to(ROOT)} lists files that do not exist: {gone}"


def test_the_manifest_does_not_speak_for_files_that_describe_themselves():
    listed = json.loads(MANIFEST.read_text())["files"]
    stale = sorted(name for name in listed if _self_described(ROOT / name)
                   or (name.endswith(".md") and _self_described((ROOT / name).with_suffix(".json"))))
    assert not stale, f"{MANIFEST.relative_to(ROOT)} describes files that record their own provenance: {stale}"
