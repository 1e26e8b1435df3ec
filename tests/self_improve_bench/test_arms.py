"""The benchmark's arms: which created set each one trains on, and with how long a schedule it is made."""

from __future__ import annotations

from self_improve_arms import ARMS, CREATION_SWEEP, TRIALS, created_pool_steps


def test_each_sweep_arm_has_its_own_created_set_made_with_its_schedule():
    assert created_pool_steps("{created_pool}", 25) == ("created_pool", 25)
    for steps in CREATION_SWEEP:
        arm = ARMS[f"created_pool_weighted_steps{steps}"]
        assert created_pool_steps(arm["synthetic"], 25) == (f"created_pool_steps{steps}", steps)
        assert {k: v for k, v in arm.items() if k != "synthetic"} == {
            k: v for k, v in ARMS["created_pool_weighted"].items() if k != "synthetic"}  # only the creation differs
    assert created_pool_steps("{pool}", 25) is None and created_pool_steps("{created_labelled}", 25) is None


def test_the_sweep_is_not_in_the_default_arms():
    assert all(f"created_pool_weighted_steps{n}" in TRIALS for n in CREATION_SWEEP)


def test_a_second_round_is_its_first_round_arm_started_from_the_controls_end():
    from self_improve_arms import ROUND2, with_prerequisites

    for name, first in ROUND2.items():
        assert ARMS[name] == {**ARMS[first], "warmup": "{control}"} and name in TRIALS
    assert with_prerequisites(("unlabelled_weighted_round2",)) == ("control", "unlabelled_weighted_round2")
    assert with_prerequisites(("oracle", "control")) == ("oracle", "control")


def test_a_deep_ensemble_arm_gets_the_extra_heads_as_a_list_and_they_share_the_labels(tmp_path):
    from self_improve_runner import EXTRA_HEADS, extra_warmup_config, fill_paths, seed_config, stage_configs

    paths = {"pool": "POOL", "heads": ["a/checkpoint", "b/checkpoint"]}
    filled = {k: fill_paths(v, paths) for k, v in ARMS["unlabelled_heads"].items()}
    assert filled["teacher_heads"] == ["a/checkpoint", "b/checkpoint"] and filled["unlabelled"] == "POOL"
    first = stage_configs(seed_config(tmp_path, 100, 2))[0]
    extras = [extra_warmup_config(tmp_path, 100, 2, k) for k in range(1, EXTRA_HEADS + 1)]
    assert {(c.num_labelled, c.labelled_seed, c.steps) for c in extras} == {(first.num_labelled, first.labelled_seed, first.steps)}
    assert len({c.seed for c in extras} | {first.seed}) == EXTRA_HEADS + 1 and len({c.out for c in extras}) == EXTRA_HEADS
    assert "unlabelled_heads" in TRIALS


def test_the_equal_compute_arm_takes_one_extra_head_and_the_rest_of_control_longs_steps(tmp_path):
    from self_improve_runner import EXTRA_HEADS, STAGE2_STEPS, extra_warmup_config, fill_paths, heads_wanted

    arm = ARMS["created_pool_head1_long"]
    heads = [f"k{k}/checkpoint" for k in range(1, EXTRA_HEADS + 1)]
    assert heads_wanted(arm) == (1, None) and heads_wanted(ARMS["unlabelled_heads"]) == (EXTRA_HEADS, None)
    assert heads_wanted(ARMS["control"]) == (0, None)
    assert fill_paths(arm["teacher_heads"], {"heads": heads}) == heads[:1]
    # one warm-up's steps for the extra head plus its stage: control_long's first stage plus its 4500 more
    head_steps = extra_warmup_config(tmp_path, 100, 0, 1).steps
    assert arm["steps"] + head_steps * heads_wanted(arm)[0] == STAGE2_STEPS + ARMS["control_long"]["steps"]
    assert "created_pool_head1_long" in TRIALS


def test_shorter_extra_heads_are_other_warm_ups_and_their_arm_keeps_control_longs_compute(tmp_path):
    from self_improve_runner import STAGE2_STEPS, extra_warmup_config, fill_paths, heads_key, heads_wanted
    from self_improve_tables import fair_control

    arm = ARMS["created_pool_heads3x1000_long"]
    count, steps = heads_wanted(arm)
    assert (count, steps) == (3, 1000)
    short, full = extra_warmup_config(tmp_path, 100, 0, 2, steps), extra_warmup_config(tmp_path, 100, 0, 2)
    assert short.steps == 1000 and short.out != full.out and (short.seed, short.labelled_seed) == (full.seed, full.labelled_seed)
    paths = {heads_key(None): ["full/checkpoint"] * 3, heads_key(1000): ["a", "b", "c"]}
    assert fill_paths(arm["teacher_heads"], paths) == ["a", "b", "c"]
    assert arm["steps"] + count * steps == STAGE2_STEPS + ARMS["control_long"]["steps"]
    assert "created_pool_heads3x1000_long" in TRIALS
    assert ARMS["created_pool_heads3x1000_p16_long"] == {**arm, "pseudo_batch_size": 16}
    assert "created_pool_heads3x1000_p16_long" in TRIALS
    assert fair_control("created_pool_heads3x1000_p16_long") == "control_long"  # the name keeps the _long suffix


def test_the_wider_teacher_and_the_bigger_pseudo_batch_change_only_that_against_the_four_head_arm():
    from self_improve_arms import heads_wanted

    base = ARMS["created_pool_heads_geometry"]
    wide, p16 = ARMS["created_pool_heads6_geometry"], ARMS["created_pool_heads_geometry_p16"]
    assert heads_wanted(wide) == (5, None) and {k: v for k, v in wide.items() if k != "teacher_heads"} == {
        k: v for k, v in base.items() if k != "teacher_heads"}
    assert p16 == {**base, "pseudo_batch_size": 16} and "batch_size" not in p16  # the control's 8 real per step
    assert {"created_pool_heads6_geometry", "created_pool_heads_geometry_p16"} <= set(TRIALS)


def test_the_best_arms_creation_sweep_differs_from_it_only_in_the_created_set_and_its_schedule():
    from self_improve_arms import BEST_AT_100, BEST_SWEEP

    own = created_pool_steps(ARMS[BEST_AT_100]["synthetic"], 25)
    for steps in BEST_SWEEP:
        arm = ARMS[f"{BEST_AT_100}_steps{steps}"]
        assert created_pool_steps(arm["synthetic"], 25) == (f"created_pool_steps{steps}", steps) != own
        assert {**arm, "synthetic": ""} == {**ARMS[BEST_AT_100], "synthetic": ""} and f"{BEST_AT_100}_steps{steps}" in TRIALS
