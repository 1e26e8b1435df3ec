"""Round 4's arm: self-improvement with the UNet's LoRA adapters training, against its matched control from the
same LoRA warm-up."""

from __future__ import annotations

import pytest
import yaml
from tiny_bench import tiny_bench_argv

from diff2in1.fileio import read_json

ARM, CONTROL = "lora_created_pool_geometry_p16", "control_b18_s2_from_lora_warmup"  # 2 real + 16 per step


def test_the_matched_control_starts_where_the_arm_starts():
    from self_improve_arms import ARMS
    from self_improve_matched import Budget, matched_control

    name, settings = matched_control(ARMS[ARM], Budget(stage_steps=1500, batch_size=8, pseudo_batch_size=8,
                                                       warmup_steps=1500))
    assert name == "control_b24_s1500_from_lora_warmup"
    assert settings["warmup"] == "{lora_warmup}" and settings["steps"] == 1500 and settings["batch_size"] == 24


def test_the_round4_plan_registers_the_arm_and_its_control_at_25_and_100_labels():
    from self_improve_prereg import round4_plan

    plan = round4_plan()
    assert sorted(plan["labelled"]) == ["100", "25"]
    assert {ARM, "control_b24_s1500_from_lora_warmup"} <= set(plan["labelled"]["25"])


@pytest.mark.slow
def test_the_bench_runs_the_lora_arm_and_scores_each_head_on_its_own_unet(tmp_path, tiny_pixel_path, monkeypatch):
    import self_improve

    argv = [*tiny_bench_argv(tmp_path, tiny_pixel_path, monkeypatch, size=16), "--arms", "control", ARM, CONTROL]
    assert self_improve.main(argv) == 0
    run = tmp_path / "work" / "L4" / "s0"
    lora = read_json(run / "warmup_lora" / "checkpoint" / "perception.json")["backbone"]["trained"]
    assert lora["mode"] == "lora"
    for name in (ARM, CONTROL):
        assert read_json(run / name / "checkpoint" / "perception.json")["backbone"]["trained"]["mode"] == "lora"
        assert yaml.safe_load((run / name / "config.yaml").read_text())["warmup"] == str(run / "warmup_lora" / "checkpoint")
        scores = read_json(run / name / "scores.json")
        assert scores["val"]["theta_e"]["normal"]["mean"] != scores["val"]["theta_c"]["normal"]["mean"]
    assert yaml.safe_load((run / CONTROL / "config.yaml").read_text())["batch_size"] == 18
    entry = read_json(tmp_path / "results" / "self_improve.json")["labelled"]["4"]
    assert entry["paired_with"][ARM] == CONTROL
