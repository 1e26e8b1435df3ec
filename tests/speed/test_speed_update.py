"""bench/speed.py --update reruns some sections of a result file and keeps the others, with who made each."""

from __future__ import annotations


def result(commit: str, sections: list[str], **figures) -> dict:
    return {"command": f"speed.py at {commit}", "git_commit": commit, "date": "d", "threads": 2,
            "load_average_1min": [0.1, 0.2], "config": {"sections": sections}, **figures,
            "timings_s": {name: [1.0] for name in sections}, "peak_memory_mb_by_section": {n: 10.0 for n in sections}}


def test_rerun_sections_replace_their_figures_and_the_rest_keep_their_maker(speed):
    old = result("old", ["features", "warmup", "creation"], features_images_per_s=2.0,
                 warmup_step_images_per_s={"cached": 8.0}, creation_vs_bare_unet=0.64)
    new = result("new", ["creation"], creation_vs_bare_unet=0.9)
    new["peak_memory_mb_by_section"] = {"creation": 30.0}
    new["sections_made_by"] = {"creation": speed.made_by(new)}
    merged = speed.updated(old, new)
    assert merged["creation_vs_bare_unet"] == 0.9 and merged["features_images_per_s"] == 2.0
    assert {k: v["git_commit"] for k, v in merged["sections_made_by"].items()} == {
        "features": "old", "warmup": "old", "creation": "new"}
    assert merged["timings_s"].keys() == {"features", "warmup", "creation"} and merged["peak_memory_mb"] == 30.0
    assert merged["breakdown"]["unet_s_per_image"] == 0.5  # recomputed from the kept features figure
    assert merged["git_commit"] == "new"  # the latest run; each section's own is in sections_made_by
