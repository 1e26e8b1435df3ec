"""The benchmark's arms: which created set each one trains on, and with how long a schedule it is made."""

from __future__ import annotations

from self_improve import ARMS, CREATION_SWEEP, TRIALS, created_pool_steps


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
    from self_improve import ROUND2, with_prerequisites

    for name, first in ROUND2.items():
        assert ARMS[name] == {**ARMS[first], "warmup": "{control}"} and name in TRIALS
    assert with_prerequisites(("unlabelled_weighted_round2",)) == ("control", "unlabelled_weighted_round2")
    assert with_prerequisites(("oracle", "control")) == ("oracle", "control")
