"""The protocol travels: the same matched-compute comparison on another data set and a Stable Diffusion model."""

from __future__ import annotations

import pytest
import yaml

from diff2in1.fileio import read_json

# every round-3 contribution, the best arm's matched control and oracle (2 real + 16 per step, 2 stage steps
# and three extra heads of 2 warm-up steps)
ARMS = ["control", "labelled_heads_geometry_p16", "created_labelled_heads_geometry_p16", "unlabelled_heads_geometry_p16",
        "created_pool_heads_geometry_p16", "created_pool_geometry_p16", "control_b18_s8", "oracle_b2_p16_s8"]


@pytest.mark.slow
def test_the_bench_runs_a_matched_comparison_on_a_data_folder_with_tiny_stable_diffusion(tmp_path, tiny_sd_path,
                                                                                            monkeypatch):
    import self_improve
    import self_improve_runner
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    # 264 training images: 4 labelled, 250 for validation, 10 left as the unlabelled pool
    data = generate_rooms(RoomsConfig(out=str(tmp_path / "data"), num=280, size=32, seed=3, test_fraction=0.05),
                          progress=False)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"batch_size": 2, "channels": 8, "warmup": {"steps": 2},
                                      "create": {"steps": 4, "batch_size": 4}, "improve": {"teacher_every": 1}}))
    monkeypatch.setattr(self_improve_runner, "STAGE2_STEPS", 2)
    monkeypatch.setattr(self_improve_runner, "BENCH_IMPROVE", {**self_improve_runner.BENCH_IMPROVE, "steps": 2, "views": 2})
    results = tmp_path / "results"
    argv = ["--dataset", "rooms", "--data", str(data), "--backbone", str(tiny_sd_path), "--config", str(config),
            "--labelled", "4", "--seeds", "0", "--manifest", "", "--work", str(tmp_path / "work"),
            "--results", str(results), "--arms", *ARMS]
    assert self_improve.main(argv) == 0
    run = tmp_path / "work" / "L4" / "s0"
    assert read_json(run / "control_b18_s8" / "metrics.json")["step"] == 8  # 2 stage steps + 3 heads x 2
    assert len(list((run / "labelled_images").glob("*.png"))) == 4
    entry = read_json(results / "self_improve.json")["labelled"]["4"]
    assert entry["paired_with"]["created_pool_heads_geometry_p16"] == "control_b18_s8"
    assert entry["best"] in set(ARMS[1:6])
    assert entry["best_against"] == "control_b18_s8" and "matched_oracle_share" in entry
    assert read_json(results / "self_improve_runs.json")["data"]["backbone"] == str(tiny_sd_path)
