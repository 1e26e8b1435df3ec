"""Round-3 tables on small synthetic run records: arms against their matched controls, only pre-registered
arms chosen, the matched oracle's share beside the same-step one, and the results file's layout."""

from __future__ import annotations

import pytest

from diff2in1.fileio import read_json
from self_improve_report import write_tables
from self_improve_tables import Pairing, summarise

CONTROLS = {"a": "control_b24_s6000", "b": "control_b24_s6000", "late": "control_b24_s6000",
            "oracle_b8_p16_s6000": "control_b24_s6000"}
ORACLES = {"a": "oracle_b8_p16_s6000", "b": "oracle_b8_p16_s6000", "late": "oracle_b8_p16_s6000"}
REGISTERED = {"100": ["control", "oracle", "a", "b", "control_b24_s6000", "oracle_b8_p16_s6000"]}
META = {"command": "c", "git_commit": "g", "machine": "m", "stage2_steps": 1, "pool_size": 1}


def scores(normal: float, depth: float, miou: float) -> dict:
    values = {"normal": {"mean": normal}, "depth": {"abs_rel": depth}, "semseg": {"miou": miou}}
    heads = {head: values for head in ("theta_e", "theta_c", "theta_e_tta", "theta_c_tta")}
    return {"val": heads, "test": heads}


def runs(**arms: tuple[float, float, float]) -> dict:
    """5 seeds; seed s shifts every arm by s (the seeds' spread), so paired differences are exact."""
    return {"100": {str(s): {arm: scores(n + s, d, m) for arm, (n, d, m) in arms.items()} for s in range(5)}}


RUNS = runs(control=(10.0, 0.10, 0.70), oracle=(9.0, 0.09, 0.72), control_b24_s6000=(9.6, 0.098, 0.71),
            oracle_b8_p16_s6000=(8.6, 0.088, 0.72), a=(9.4, 0.095, 0.71), b=(9.5, 0.096, 0.71),
            late=(9.0, 0.090, 0.71))  # the post hoc arm is better on validation than every registered one


def test_the_best_is_the_best_preregistered_arm_against_its_matched_control():
    entry = summarise(RUNS, pairing=Pairing(CONTROLS, ORACLES, REGISTERED))["100"]
    assert entry["best"] == "a" and entry["best_against"] == "control_b24_s6000"
    assert entry["arms"]["late"]["preregistered"] is False and entry["arms"]["a"]["preregistered"] is True
    assert entry["best_minus_control"]["tta"]["normal.mean"][0] == pytest.approx(-0.2)  # not −0.6 against control
    assert entry["minus_control"]["late"]["tta"]["normal.mean"][0] == pytest.approx(-0.6)  # reported, not chosen
    # 0.2 of the matched oracle's 1.0 against the same control; the same-step share is 0.6 of 1.0
    assert entry["matched_oracle_share"]["tta"]["normal.mean"] == pytest.approx(0.2)
    assert entry["oracle_share"]["tta"]["normal.mean"] == pytest.approx(0.6)
    assert entry["paired_with"]["oracle_b8_p16_s6000"] == "control_b24_s6000"


def test_without_a_manifest_every_arm_competes():
    entry = summarise(RUNS, pairing=Pairing(CONTROLS, ORACLES))["100"]
    assert entry["best"] == "late" and entry["arms"]["late"]["preregistered"] is True


def test_the_results_file_keeps_its_layout_and_adds_the_matched_share_and_the_flags(tmp_path):
    write_tables(RUNS, tmp_path, META, Pairing(CONTROLS, ORACLES, REGISTERED))
    entry = read_json(tmp_path / "self_improve.json")["labelled"]["100"]
    assert {"tta", "plain"} <= set(entry["best_minus_control"]) and entry["seeds"] == [0, 1, 2, 3, 4]
    assert {"oracle_share", "matched_oracle_share", "arms"} <= set(entry)
    assert all(isinstance(row["preregistered"], bool) for row in entry["arms"].values())
    text = (tmp_path / "self_improve.md").read_text()
    assert "| late † |" in text and "matched oracle's gain (oracle_b8_p16_s6000, against control_b24_s6000)" in text
