"""The benchmark's best arm is chosen on validation: lowest paired normal error among arms that keep mIoU."""

from __future__ import annotations

import pytest

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


def test_an_arm_missing_seeds_of_its_control_is_not_chosen():
    seeds = seeds_with(control=(10.0, 0.70), a=(9.9, 0.69), b=(9.5, 0.68))
    seeds["0"]["partial"] = scores(5.0, 0.70)  # one seed only, far ahead on that seed
    assert best_arm(arm_table(seeds), seeds) == "b"


def test_controls_and_oracle_are_never_best():
    seeds = seeds_with(control=(10.0, 0.70), oracle=(8.0, 0.75), control16=(9.0, 0.71), a=(9.9, 0.70))
    assert best_arm(arm_table(seeds), seeds) == "a"


def test_created_images_are_set_against_the_photos_they_come_from_with_the_same_teacher():
    from self_improve_report import markdown
    from self_improve_tables import summarise

    seeds = seeds_with(control=(10.0, 0.70), unlabelled_weighted=(9.9, 0.70), created_pool_weighted=(9.7, 0.70))
    entry = summarise({"25": seeds})["25"]
    delta = entry["created_pool_weighted_minus_unlabelled_weighted"]["tta"]["normal.mean"]
    assert delta[0] == pytest.approx(-0.2) and delta[2] == 3
    meta = {"command": "c", "git_commit": "g", "machine": "m", "stage2_steps": 1, "pool_size": 1}
    assert "| created_pool_weighted − unlabelled_weighted | tta | -0.2000" in markdown({"25": entry}, meta)


def test_the_creation_cost_table_lists_the_created_arms_by_unet_calls():
    from self_improve_report import markdown
    from self_improve_tables import summarise

    seeds = seeds_with(control=(10.0, 0.70), created_pool_weighted=(9.7, 0.70), created_pool_weighted_steps5=(9.9, 0.70))
    calls = {"created_pool_weighted": {"schedule_steps": 25, "unet_calls": 16},
             "created_pool_weighted_steps5": {"schedule_steps": 5, "unet_calls": 4}}
    entry = summarise({"25": seeds}, calls)["25"]
    assert [row["arm"] for row in entry["creation_cost"]] == ["created_pool_weighted_steps5", "created_pool_weighted"]
    assert entry["creation_cost"][1]["minus_control"]["tta"]["normal.mean"][0] == pytest.approx(-0.3)
    meta = {"command": "c", "git_commit": "g", "machine": "m", "stage2_steps": 1, "pool_size": 1}
    assert "| created_pool_weighted_steps5 | 5 | 4 | -0.1000" in markdown({"25": entry}, meta)


def test_a_second_round_arm_is_paired_with_the_control_and_oracle_of_the_second_round():
    from self_improve_report import markdown
    from self_improve_tables import summarise

    seeds = seeds_with(control=(10.0, 0.70), oracle=(9.0, 0.72), a=(9.95, 0.70), control_round2=(9.7, 0.70),
                       unlabelled_weighted_round2=(9.6, 0.70), oracle_round2=(9.3, 0.72))
    entry = summarise({"100": seeds})["100"]
    # against the first round's control the second round would look 0.4° better; its own control takes 0.3
    assert entry["best"] == "unlabelled_weighted_round2" and entry["best_against"] == "control_round2"
    assert entry["best_minus_control"]["tta"]["normal.mean"][0] == pytest.approx(-0.1)
    assert entry["oracle_share"]["tta"]["normal.mean"] == pytest.approx(0.1 / 0.4)
    assert entry["minus_control"]["control_round2"]["tta"]["normal.mean"][0] == pytest.approx(-0.3)
    assert entry["paired_with"] == {"unlabelled_weighted_round2": "control_round2", "oracle_round2": "control_round2"}
    assert "best_minus_control16" not in entry
    meta = {"command": "c", "git_commit": "g", "machine": "m", "stage2_steps": 1, "pool_size": 1}
    assert "| unlabelled_weighted_round2 − control_round2 | tta | -0.1000" in markdown({"100": entry}, meta)


def test_a_second_round_arm_without_its_control_is_not_chosen():
    seeds = seeds_with(control=(10.0, 0.70), a=(9.95, 0.70), unlabelled_weighted_round2=(9.0, 0.70))
    assert best_arm(arm_table(seeds), seeds) == "a"


def test_an_arm_with_control_long_s_compute_is_paired_with_control_long_not_the_shorter_control():
    from self_improve_tables import summarise

    seeds = seeds_with(control=(10.0, 0.70), oracle=(9.0, 0.72), a=(9.95, 0.70), control_long=(9.7, 0.71),
                       created_pool_head1_long=(9.6, 0.71))
    entry = summarise({"100": seeds})["100"]
    # against the 1500-step control the longer stage alone would look 0.3° better
    assert entry["best"] == "created_pool_head1_long" and entry["best_against"] == "control_long"
    assert entry["best_minus_control"]["tta"]["normal.mean"][0] == pytest.approx(-0.1)
    assert entry["paired_with"]["created_pool_head1_long"] == "control_long"
    assert entry["oracle_share"] == {}  # no oracle ran as long


def test_label_counts_are_summarised_in_increasing_order_whatever_order_the_runs_came_in():
    from self_improve_tables import summarise

    seeds = seeds_with(control=(10.0, 0.70), a=(9.9, 0.70))
    assert list(summarise({"800": seeds, "25": seeds, "100": seeds})) == ["25", "100", "800"]


def test_what_run_would_export_is_chosen_per_seed_on_validation_and_scored_on_test():
    from self_improve_tables import chosen_minus_control

    seeds = seeds_with(control=(10.0, 0.70), a=(9.9, 0.69))
    seeds["1"]["a"]["val"] = scores(12.0, 0.60)["val"]  # seed 1: a loses normals and mIoU on validation
    seeds["2"]["a"] = {"val": scores(11.0, 0.71)["val"], "test": scores(13.0, 0.60)["test"]}  # wins val, loses test
    chosen = chosen_minus_control(seeds, "a", "control", ("theta_c", "theta_c"))
    assert chosen["chose"] == {"0": "control", "1": "control", "2": "a"}  # seed 0: normals won, mIoU lost: a tie
    normal = chosen["tta"]["normal.mean"]
    assert normal[0] == pytest.approx((0.0 + 0.0 + (13.0 - 12.0)) / 3) and normal[2] == 0
    assert chosen["tta"]["semseg.miou"][0] == pytest.approx((0.60 - 0.70) / 3)


def test_the_arm_table_lists_earlier_rounds_arms_in_their_order_then_new_ones_by_name():
    seeds = seeds_with(zeta=(9.0, 0.7), oracle=(8.0, 0.7), alpha=(9.5, 0.7), control=(10.0, 0.7))
    assert list(arm_table(seeds)) == ["control", "oracle", "alpha", "zeta"]  # the same under any hash seed
