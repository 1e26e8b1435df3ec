"""bench/speed.py --sections trainable: a warm-up step with the UNet frozen, LoRA-trained or fully trained."""

from __future__ import annotations

import speed_trainable


def test_the_trainable_section_times_every_row_with_positive_figures(speed, tmp_path, monkeypatch):
    monkeypatch.setattr(speed_trainable, "FRESH_PROCESS", False)  # seconds: the rows in this process
    results = speed.main(["--sections", "trainable", "--size", "tiny", "--batch-size", "2", "--repeats", "1",
                          "--threads", "1", "--out", str(tmp_path)])
    rows = results["trainable_step"]
    assert list(rows) == ["tiny/none", "tiny/lora", "tiny/lora+gc", "tiny/full", "tiny/full+gc"]
    for row in rows.values():
        assert "error" not in row
        assert row["s_per_step"] > 0 and row["images_per_s"] > 0 and row["peak_memory_mb"] > 0
        assert len(row["timings_s"]) == 1 and row["batch_size"] == 2
    trained = {key: row["trained_unet_parameters"] for key, row in rows.items()}
    assert trained["tiny/none"] == 0 < trained["tiny/lora"] < trained["tiny/full"] == rows["tiny/full"]["unet_parameters"]
    assert "| tiny | " in (tmp_path / "speed-cpu-tiny.md").read_text()
    assert "trainable" not in speed.DEFAULT_SECTIONS  # the default run stays minutes shorter


def test_a_row_in_its_own_process_reports_its_step(tmp_path):
    rows = speed_trainable.run_rows("cpu", "tiny", 1, 1, [("lora", True)], precision="fp32", threads=1, seed=0)
    row = rows["tiny/lora+gc"]
    assert row["gradient_checkpointing"] and row["mode"] == "lora" and row["s_per_step"] > 0
    assert row["step_memory_mb"] > 0 and row["peak_memory_mb"] >= row["memory_before_step_mb"]
