"""The benchmark's best arm is chosen on validation: lowest paired normal error among arms that keep mIoU."""

from __future__ import annotations

from self_improve_tables import arm_table, best_arm


def scores(normal: float, miou: float) -> dict:
    values = {"normal": {"mean": normal}, "depth": {"abs_rel": 0.1}, "semseg": {"miou": miou}}
    heads = {head: values for head in ("theta_e", "theta_c", "theta_e_tta", "theta_c_tta")}
    return {"val": heads, "test": heads}


def seeds_with(**arms: tuple[float, float]) -> dict:
    return {str(seed): {arm: scores(normal + seed, miou) for arm, (normal, miou) in arms.items()} for seed in range(3)}


def test_lowest_normal_error_wins_when_every_arm_keeps_miou():
    seeds = seeds_with(control=(10.0, 0.70), a=(9.9, 0.70), b=(9.8, 0.699))
    assert best_arm(arm_table(seeds), seeds) == "b"


def test_an_arm_losing_more_miou_than_the_bound_is_passed_over():
    seeds = seeds_with(control=(10.0, 0.70), a=(9.9, 0.70), b=(9.5, 0.69))
    assert best_arm(arm_table(seeds), seeds) == "a"


def test_when_every_arm_loses_miou_normals_decide():
    seeds = seeds_with(control=(10.0, 0.70), a=(9.9, 0.69), b=(9.5, 0.68))
    assert best_arm(arm_table(seeds), seeds) == "b"


def test_controls_and_oracle_are_never_best():
    seeds = seeds_with(control=(10.0, 0.70), oracle=(8.0, 0.75), control16=(9.0, 0.71), a=(9.9, 0.70))
    assert best_arm(arm_table(seeds), seeds) == "a"
