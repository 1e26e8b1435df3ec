"""Each arm's matched-compute control: its total steps in one schedule, its images per step all real."""

from __future__ import annotations

from dataclasses import replace

import pytest

from self_improve_arms import ARMS, BEST_AT_100, CONTRIBUTIONS, ENSEMBLE_GEOMETRY_P16
from self_improve_matched import Budget, matched_control, matched_oracle

BUDGET = Budget(stage_steps=1500, batch_size=8, pseudo_batch_size=8, warmup_steps=1500)


def improve_config(tmp_path, settings: dict):
    """The stage config the benchmark builds for an arm (self_improve.one_seed), placeholders filled."""
    from self_improve_runner import BENCH_IMPROVE, arm_overrides, seed_config, stage_configs

    improve = stage_configs(seed_config(tmp_path, 100, 0))[2]
    paths = {"pool": "POOL", "pool_truth": "POOL", "control": "CONTROL_END", "created_pool_steps5": "CREATED",
             "heads": ["k1", "k2", "k3"]}
    return replace(improve, **{**BENCH_IMPROVE, **arm_overrides(settings, paths)})


def test_the_best_arms_control_has_its_24_images_per_step_real_and_its_heads_steps_in_one_schedule(tmp_path):
    name, settings = matched_control(ARMS[BEST_AT_100], BUDGET)
    assert name == "control_b24_s6000"  # 8 real + 16 created; 1500 stage steps + 3 heads x 1500 warm-up steps
    config = improve_config(tmp_path, settings)
    assert (config.batch_size, config.pseudo_batch_size, config.steps) == (24, 0, 6000)
    assert not config.synthetic and not config.unlabelled and not config.teacher_heads
    assert config.warmup.endswith("warmup/checkpoint")  # from the warm-up, one optimizer and one cosine
    arm = improve_config(tmp_path, ARMS[BEST_AT_100])
    assert (arm.views, arm.lr, arm.lr_schedule, arm.ema_decay) == (config.views, config.lr, config.lr_schedule,
                                                                   config.ema_decay)


def test_a_warm_restart_arm_is_matched_by_one_schedule_over_both_stages():
    # control_long continues the control's end for 4500 steps: its match runs 6000 from the warm-up
    name, settings = matched_control(ARMS["control_long"], BUDGET)
    assert name == "control_b8_s6000" and "warmup" not in settings and settings["steps"] == 6000


@pytest.mark.parametrize(("arm", "expected"), [
    ("created_pool_head1_long", "control_b16_s6000"),  # one 1500-step head + a 4500-step stage
    ("created_pool_heads3x1000_long", "control_b16_s6000"),  # three 1000-step heads + a 3000-step stage
    ("created_pool_heads3x1000_p16_long", "control_b24_s6000"),
    ("unlabelled", "control_b16_s1500"),
    ("created_pool_geometry_p16", "control_b24_s1500"),  # θC alone: no heads to pay for
])
def test_matched_controls_add_the_extra_heads_steps_and_the_pseudo_samples(arm, expected):
    assert matched_control(ARMS[arm], BUDGET)[0] == expected


def test_the_release_arm_is_matched_with_its_presets_optimizer_spelt_out():
    from diff2in1.self_improving.config import RELEASE_PRESET

    name, settings = matched_control(ARMS["release"], BUDGET)
    assert name.startswith("control_b8_s1500_") and "preset" not in settings  # 4 real + 4 created per step
    assert {k: settings[k] for k in ("views", "lr", "lr_schedule", "ema_every")} == {
        k: RELEASE_PRESET[k] for k in ("views", "lr", "lr_schedule", "ema_every")}
    assert settings["batch_size"] == 8 and settings["pseudo_batch_size"] == 0


def test_the_matched_oracle_puts_ground_truth_in_the_teachers_place_with_the_same_samples_and_steps(tmp_path):
    name, settings = matched_oracle(ARMS[BEST_AT_100], BUDGET)
    assert name == "oracle_b8_p16_s6000"
    config = improve_config(tmp_path, settings)
    assert (config.batch_size, config.pseudo_batch_size, config.steps) == (8, 16, 6000)
    assert config.unlabelled_labels == "ground_truth" and config.unlabelled == "POOL" and not config.synthetic
    with pytest.raises(ValueError, match="no oracle"):
        matched_oracle(ARMS["control"], BUDGET)


def test_each_contribution_changes_one_part_of_the_best_arms_recipe():
    best = ARMS[BEST_AT_100]
    assert CONTRIBUTIONS[BEST_AT_100] == best and all(ARMS[name] == s for name, s in CONTRIBUTIONS.items())
    sources = {name: (s.get("synthetic", ""), s.get("unlabelled", "")) for name, s in CONTRIBUTIONS.items()}
    assert sources == {"labelled_heads_geometry_p16": ("", "{labelled_images}"),
                       "created_labelled_heads_geometry_p16": ("{created_labelled_steps5}", ""),
                       "unlabelled_heads_geometry_p16": ("", "{pool}"),
                       BEST_AT_100: ("{created_pool_steps5}", ""),
                       "created_pool_geometry_p16": ("{created_pool_steps5}", "")}
    for name, settings in CONTRIBUTIONS.items():
        teacher = {k: settings.get(k) for k in ENSEMBLE_GEOMETRY_P16}
        expected = {**ENSEMBLE_GEOMETRY_P16, "teacher_heads": None} if name == "created_pool_geometry_p16" \
            else ENSEMBLE_GEOMETRY_P16
        assert teacher == expected, name


def test_the_bench_knows_every_matched_run_and_derives_them_from_the_demo_settings(tmp_path):
    from self_improve_prereg import ROUND3_BUDGET
    from self_improve_runner import arm_registry, budget_of, seed_config

    assert budget_of(seed_config(tmp_path, 100, 0)) == ROUND3_BUDGET  # the manifest's names are the bench's
    registry = arm_registry(ROUND3_BUDGET)
    for name in CONTRIBUTIONS:
        assert matched_control(ARMS[name], ROUND3_BUDGET)[0] in registry
    assert "oracle_b8_p16_s6000" in registry and "control_b24_s1500" in registry


def test_the_bench_pairs_arms_with_matched_runs_unless_asked_for_the_earlier_rounds_same_step_ones():
    from self_improve import pairing
    from self_improve_prereg import ROUND3_BUDGET
    from self_improve_runner import arm_registry

    registry = arm_registry(ROUND3_BUDGET)
    matched = pairing(registry, ROUND3_BUDGET, None)
    assert (matched.control(BEST_AT_100), matched.oracle(BEST_AT_100)) == ("control_b24_s6000", "oracle_b8_p16_s6000")
    assert matched.control("oracle_b8_p16_s6000") == "control_b24_s6000" and matched.preregistered is None
    same_step = pairing(registry, ROUND3_BUDGET, None, matched=False)
    assert (same_step.control(BEST_AT_100), same_step.oracle(BEST_AT_100)) == ("control", "oracle")
    assert same_step.control("created_pool_head1_long") == "control_long"
