"""Round 3 is pre-registered: its manifest was committed before its results, and the bench keeps to it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from self_improve_prereg import MANIFEST, ROUND3_BUDGET, SEEDS, preregistered_arms, read_manifest, round3_plan

ROOT = Path(__file__).parents[2]


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_manifest_registers_the_planned_arms_with_the_settings_the_bench_gives_them():
    from self_improve_runner import arm_registry, budget_of, seed_config

    manifest = read_manifest(MANIFEST)
    plan = round3_plan()
    assert manifest["labelled"] == plan["labelled"] and manifest["seeds"] == list(SEEDS) == [0, 1, 2, 3, 4]
    registry = arm_registry(budget_of(seed_config(Path("/nonexistent"), 100, 0)))
    assert preregistered_arms(manifest, registry) == manifest["labelled"]  # every arm unchanged since
    assert {"25", "100", "800"} == set(manifest["labelled"])
    assert len(manifest["labelled"]["100"]) > len(manifest["labelled"]["25"]) == len(manifest["labelled"]["800"])


def test_the_manifest_was_written_at_an_earlier_commit_that_held_no_round_3_result():
    if git("rev-parse", "--git-dir").returncode:
        pytest.skip("not a git checkout")
    manifest = read_manifest(MANIFEST)
    commit = manifest["written_at_commit"]
    if git("cat-file", "-e", f"{commit}^{{commit}}").returncode:
        pytest.skip(f"{commit} is not in this clone's history")
    assert git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0
    assert git("cat-file", "-e", f"{commit}:{manifest['results']}").returncode != 0  # no results folder yet
    assert git("cat-file", "-e", f"{commit}:bench/self_improve_matched.py").returncode == 0  # the code was


def test_an_arm_whose_settings_changed_after_registration_is_post_hoc():
    manifest = {"labelled": {"100": ["control", "a"]}, "arms": {"control": {"x": 1}, "a": {"steps": 1500}}}
    assert preregistered_arms(manifest, {"control": {"x": 1}, "a": {"steps": 1500}}) == {"100": ["control", "a"]}
    assert preregistered_arms(manifest, {"control": {"x": 1}, "a": {"steps": 3000}}) == {"100": ["control"]}


def test_the_bench_runs_the_manifests_counts_seeds_and_arms_by_default():
    from self_improve import arm_registry, arms_at, parse_args

    args, manifest = parse_args([])
    assert (args.labelled, args.seeds, args.results) == ([25, 100, 800], [0, 1, 2, 3, 4], "bench/results/round3")
    assert arms_at(100, args, manifest, arm_registry(ROUND3_BUDGET)) == tuple(manifest["labelled"]["100"])
    args, none = parse_args(["--manifest", "", "--labelled", "100"])
    assert none is None and args.results == "bench/results"
    with pytest.raises(SystemExit, match="pass --arms"):
        arms_at(100, args, none, {})

