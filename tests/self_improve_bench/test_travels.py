"""The protocol travels: the same matched-compute comparison on another data set and a Stable Diffusion model."""

from __future__ import annotations

import pytest
from tiny_bench import tiny_bench_argv

from diff2in1.fileio import read_json

# every round-3 contribution, the best arm's matched control and oracle (2 real + 16 per step, 2 stage steps
# and three extra heads of 2 warm-up steps)
ARMS = ["control", "labelled_heads_geometry_p16", "created_labelled_heads_geometry_p16", "unlabelled_heads_geometry_p16",
        "created_pool_heads_geometry_p16", "created_pool_geometry_p16", "control_b18_s8", "oracle_b2_p16_s8"]


@pytest.mark.slow
def test_the_bench_runs_a_matched_comparison_on_a_data_folder_with_tiny_stable_diffusion(tmp_path, tiny_sd_path,
                                                                                            monkeypatch):
    import self_improve

    results = tmp_path / "results"
    argv = [*tiny_bench_argv(tmp_path, tiny_sd_path, monkeypatch, size=32), "--arms", *ARMS]
    assert self_improve.main(argv) == 0
    run = tmp_path / "work" / "L4" / "s0"
    assert read_json(run / "control_b18_s8" / "metrics.json")["step"] == 8  # 2 stage steps + 3 heads x 2
    assert len(list((run / "labelled_images").glob("*.png"))) == 4
    entry = read_json(results / "self_improve.json")["labelled"]["4"]
    assert entry["paired_with"]["created_pool_heads_geometry_p16"] == "control_b18_s8"
    assert entry["best"] in set(ARMS[1:6])
    assert entry["best_against"] == "control_b18_s8" and "matched_oracle_share" in entry
    assert read_json(results / "self_improve_runs.json")["data"]["backbone"] == str(tiny_sd_path)
