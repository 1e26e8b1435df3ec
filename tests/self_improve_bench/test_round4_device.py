"""bench/round4_device.py: round 4's (labels, seed) processes, time-boxed, resumed by the next call."""

from __future__ import annotations

import pytest

import round4_device
from diff2in1.fileio import read_json


def test_the_device_runs_every_registered_pair_with_the_manifests_arms(tmp_path):
    from self_improve_prereg import read_manifest

    manifest = read_manifest(round4_device.MANIFEST)
    pairs = round4_device.plan(manifest)
    assert pairs[0] == (25, 0) and len(pairs) == len(manifest["labelled"]) * len(manifest["seeds"]) == 10
    args = round4_device.parse_args([str(tmp_path / "out"), "--work", str(tmp_path)])
    command = round4_device.bench_command(args, [100], [3], [])
    assert command[1].endswith("bench/self_improve.py")
    assert command[command.index("--manifest") + 1] == str(round4_device.MANIFEST)
    assert "--arms" not in command and command[command.index("--seeds") + 1] == "3"


def test_the_summary_names_the_last_arm_a_process_started(tmp_path):
    log = tmp_path / "L25-s0.log"
    log.write_text("warming up\nL25 s0: control\nsteps 10/1500\nL25 s0: lora_created_pool_geometry_p16\n")
    assert round4_device.last_arm(log) == "lora_created_pool_geometry_p16"
    log.write_text("warming up\n")
    assert round4_device.last_arm(log) == "warmup"


@pytest.mark.slow
def test_a_rehearsal_stopped_at_its_deadline_finishes_in_the_next_call(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    argv = [str(out), "--rehearse", "--work", str(work)]
    assert round4_device.main([*argv, "--seconds", "45", "--collect-seconds", "20"]) == 3
    assert "stopped at the deadline" in (out / "summary.txt").read_text()
    assert round4_device.main([*argv, "--seconds", "400"]) == 0
    assert (out / "summary.txt").read_text().count("exit 0") == 3  # two seeds and the collection
    entry = read_json(out / "results" / "self_improve.json")["labelled"]["4"]
    assert entry["seeds"] == [0, 1]
    assert entry["paired_with"]["lora_created_pool_geometry_p16"] == "control_b18_s2_from_lora_warmup"
