"""The pre-registered target: each check, the seed count it needs, and its line in the results file."""

from __future__ import annotations

from test_round3_tables import CONTROLS, ORACLES, REGISTERED, runs

from self_improve_tables import Pairing, summarise
from self_improve_target import target_verdict, verdict_line


def gains(normal: list, depth: list, miou: list) -> dict:
    return {"tta": {"normal.mean": normal, "depth.abs_rel": depth, "semseg.miou": miou}}


def test_a_clear_gain_on_five_seeds_meets_it():
    verdict = target_verdict(gains([-0.98, 0.16, 5], [-0.0088, 0.0029, 5], [-0.0001, 0.008, 3]), 5)
    assert verdict["met"] and all(verdict["checks"].values())
    assert "**met**" in verdict_line(verdict)


def test_a_gain_within_two_paired_stds_fails():
    verdict = target_verdict(gains([-0.2, 0.11, 5], [-0.0088, 0.0029, 5], [0.0, 0.0, 3]), 5)
    assert verdict["checks"]["normal.mean"] is False and not verdict["met"]


def test_too_few_wins_or_too_much_miou_lost_fails():
    few_wins = target_verdict(gains([-0.5, 0.1, 3], [-0.01, 0.001, 5], [0.0, 0.0, 3]), 5)  # two seeds lost
    miou = target_verdict(gains([-0.5, 0.1, 5], [-0.01, 0.001, 5], [-0.0021, 0.001, 0]), 5)
    assert few_wins["checks"]["normal.mean"] is False and miou["checks"]["semseg.miou"] is False
    assert not few_wins["met"] and not miou["met"]


def test_fewer_than_five_seeds_is_pending_not_met():
    verdict = target_verdict(gains([-0.9, 0.1, 3], [-0.01, 0.001, 3], [0.0, 0.0, 2]), 3)
    assert not verdict["met"] and not verdict["complete"] and all(verdict["checks"].values())
    assert "pending (3 of 5 seeds paired; so far)" in verdict_line(verdict)


def test_two_lost_seeds_fail_a_check_before_all_seeds_are_in():
    verdict = target_verdict(gains([-0.9, 0.1, 1], [-0.01, 0.001, 3], [0.0, 0.0, 2]), 3)
    assert verdict["checks"]["normal.mean"] is False and verdict["checks"]["depth.abs_rel"] is True


def test_summarise_checks_the_best_arm_of_a_registered_round_only():
    registered = summarise(runs(control=(10.0, 0.10, 0.70), control_b24_s6000=(9.6, 0.098, 0.71),
                                a=(9.4, 0.095, 0.71)), pairing=Pairing(CONTROLS, ORACLES, REGISTERED))["100"]
    assert registered["best"] == "a" and registered["target"]["met"] and registered["target"]["seeds"] == 5
    same_step = summarise(runs(control=(10.0, 0.10, 0.70), a=(9.4, 0.095, 0.71)))["100"]
    assert "target" not in same_step


def test_run_s_export_is_judged_by_its_worst_seed_against_the_control_s_spread():
    from self_improve_target import export_line, export_within_spread

    per_seed = {"normal.mean": {"0": 0.0, "1": 0.3, "2": -0.5}, "semseg.miou": {"0": 0.0, "1": -0.004, "2": 0.01}}
    control = {"normal.mean": [10.0, 0.2], "semseg.miou": [0.7, 0.005]}
    check = export_within_spread(per_seed, control)
    assert check["normal.mean"] == {"worst": 0.3, "spread": 0.2, "within": False}
    assert check["semseg.miou"]["worst"] == 0.004 and check["semseg.miou"]["within"]  # an mIoU drop is worse
    assert "**not within the seed spread**" in export_line(check, "c") and "BEYOND" in export_line(check, "c")


def test_summarise_checks_the_export_of_every_label_count():
    entry = summarise(runs(control=(10.0, 0.10, 0.70), control_b24_s6000=(9.6, 0.098, 0.71),
                           a=(9.4, 0.095, 0.71)), pairing=Pairing(CONTROLS, ORACLES, REGISTERED))["100"]
    assert entry["export_within_spread"]["normal.mean"]["within"]  # the arm is better on every seed
    assert set(entry["chosen_minus_control"]["per_seed"]["normal.mean"]) == {"0", "1", "2", "3", "4"}


def test_worse_follows_each_task_s_headline_direction_in_the_task_registry():
    import pytest

    from self_improve_target import signed_worse

    assert signed_worse("depth.abs_rel", 0.01) == 0.01 and signed_worse("saliency.maxF", 0.01) == -0.01
    with pytest.raises(ValueError, match="headline metric mean"):
        signed_worse("normal.median", 0.1)  # no direction is guessed for a metric the registry does not lead with


def test_the_no_task_lost_rule_keeps_the_control_where_the_arm_trades_a_task_away():
    entry = summarise(runs(control=(10.0, 0.10, 0.70), control_b24_s6000=(9.6, 0.098, 0.71),
                           a=(9.4, 0.095, 0.705)), pairing=Pairing(CONTROLS, ORACLES, REGISTERED))["100"]
    assert set(entry["chosen_minus_control"]["chose"].values()) == {"a"}  # two tasks won outweigh mIoU
    strict = entry["chosen_minus_control_no_task_lost"]
    assert set(strict["chose"].values()) == {"control_b24_s6000"} and strict["tta"]["semseg.miou"][0] == 0.0
    assert entry["export_within_spread_no_task_lost"]["semseg.miou"]["within"]


def test_one_seed_has_no_spread_to_check_the_export_against():
    one = {"100": {"0": runs(control=(10.0, 0.10, 0.70), control_b24_s6000=(9.6, 0.098, 0.71),
                             a=(9.4, 0.095, 0.71))["100"]["0"]}}
    entry = summarise(one, pairing=Pairing(CONTROLS, ORACLES, REGISTERED))["100"]
    assert entry["export_within_spread"] == {} and entry["export_within_spread_no_task_lost"] == {}
    from self_improve_target import export_line

    assert "not checked yet" in export_line({}, "control_b24_s6000")
