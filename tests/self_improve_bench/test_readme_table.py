"""The README's results table: the best arm, what `run` exports, the oracle, each against the matched control."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "docs" / "figures" / "readme_results_table.py"


def table_script():
    spec = importlib.util.spec_from_file_location("readme_results_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cells(normal: float) -> dict:
    return {"normal.mean": [normal, 0.1, 1], "depth.abs_rel": [-0.001, 0.0005, 2], "semseg.miou": [0.0, 0.001, 1]}


SUMMARY = {
    "best": "arm", "seeds": [0, 1, 2],
    "arms": {"arm": {"seeds": 3}, "control_b24_s6000": {"seeds": 3}, "oracle_b8_p16_s6000": {"seeds": 2}},
    "paired_with": {"arm": "control_b24_s6000", "oracle_b8_p16_s6000": "control_b24_s6000"},
    "minus_control": {"arm": {"tta": cells(-0.5)}, "oracle_b8_p16_s6000": {"tta": cells(-2.0)}},
    "chosen_minus_control": {"chose": {"0": "arm", "1": "control_b24_s6000", "2": "arm"}, "tta": cells(-0.3)},
}


def test_the_export_row_follows_the_best_arm_and_counts_the_seeds_it_chose_the_arm():
    rows = table_script().readme_rows({"labelled": {"100": SUMMARY}})[2:]
    assert [row.split(" | ")[1].split(" ")[0] for row in rows] == ["`arm`", "`run`'s", "`oracle_b8_p16_s6000`"]
    assert "the arm on 2/3 seeds" in rows[1] and "-0.300 ± 0.100 (1/3)" in rows[1]
    assert rows[2].startswith("| 100 (2) |")  # the oracle pairs on the 2 seeds it ran


def test_no_export_row_without_choices():
    summary = {**SUMMARY, "chosen_minus_control": {"chose": {}, "tta": {}}}
    rows = table_script().readme_rows({"labelled": {"100": summary}})[2:]
    assert len(rows) == 2 and "`run`'s" not in "".join(rows)


def test_the_docs_tables_put_the_export_after_the_best_arm_and_say_the_target_s_state():
    target = {"checks": {"normal.mean": False, "depth.abs_rel": True, "semseg.miou": True}, "seeds": 3,
              "required": 5, "complete": False, "met": False}
    summary = {**SUMMARY, "target": target, "matched_oracle_share": {"tta": {"normal.mean": 0.25}},
               "export_within_spread": {"normal.mean": {"worst": 0.3, "spread": 0.2, "within": False}}}
    lines = table_script().docs_tables({"labelled": {"100": summary}})
    rows = [line for line in lines if line.startswith("| `")]
    assert rows[1].startswith("| `run`'s export (the arm on 2/3 seeds")
    assert "Target: **pending, 3 of 5 seeds** (so far failing: normal.mean)." in lines
    assert "Share of the matched oracle's gain: normal.mean 25%." in lines
    assert "`run`'s export on its worst seed: worse than the control by more than the seed spread on normal.mean." in lines


def test_the_docs_tables_show_the_no_task_lost_export_beside_the_default_one():
    strict = {"chose": {"0": "control_b24_s6000", "1": "control_b24_s6000", "2": "arm"}, "tta": cells(-0.1)}
    summary = {**SUMMARY, "chosen_minus_control_no_task_lost": strict,
               "export_within_spread_no_task_lost": {"normal.mean": {"worst": 0.0, "spread": 0.2, "within": True}}}
    lines = table_script().docs_tables({"labelled": {"100": summary}})
    rows = [line for line in lines if line.startswith("| `")]
    assert rows[2].startswith("| `run`'s export (with `choose_by: no_task_lost`, the arm on 1/3 seeds")
    assert ("`run`'s export with `choose_by: no_task_lost` on its worst seed: within the control's seed spread "
            "on every metric.") in lines
    assert len(table_script().readme_rows({"labelled": {"100": summary}})) == 5  # the README keeps run's default


def test_the_oracle_share_names_the_oracle_s_own_gain():
    summary = {**SUMMARY, "matched_oracle": "oracle_b8_p16_s6000", "matched_oracle_share": {"tta": {"normal.mean": 0.25}}}
    assert "Share of the matched oracle's gain: normal.mean 25% of -2.000." in table_script().verdict(summary)


def test_a_complete_verdict_names_its_failing_checks_without_so_far():
    target = {"checks": {"normal.mean": False, "depth.abs_rel": True, "semseg.miou": False}, "seeds": 5,
              "required": 5, "complete": True, "met": False}
    assert "Target: **not met** (failing: normal.mean, semseg.miou)." in table_script().verdict({**SUMMARY, "target": target})


def test_no_share_of_an_oracle_gain_within_noise():
    oracle = {**cells(-0.15), "depth.abs_rel": [-0.002, 0.0005, 3]}  # normals within 2 std of zero, depth beyond
    noisy = {**SUMMARY["minus_control"], "oracle_b8_p16_s6000": {"tta": oracle}}
    summary = {**SUMMARY, "minus_control": noisy, "matched_oracle": "oracle_b8_p16_s6000",
               "matched_oracle_share": {"tta": {"normal.mean": -40.0, "depth.abs_rel": 0.5}}}
    line = [line for line in table_script().verdict(summary) if line.startswith("Share")][0]
    assert "normal.mean: none to share (the oracle's -0.150 ± 0.100 is within 2 paired std of zero)" in line
    assert "-4000%" not in line and "depth.abs_rel 50% of -0.0020" in line
