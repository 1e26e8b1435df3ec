"""`diff2in1 run` starts from the benchmark's best pre-registered recipe; a config's own settings, a preset
or `recipe: false` take its place."""

from __future__ import annotations

import pytest

from diff2in1.fileio import write_json
from diff2in1.workflow.run import (
    RECIPE_EXTRA_HEADS,
    RunConfig,
    extra_heads,
    recipe_pseudo_tasks,
    stage_configs,
)


def config(tmp_path, **fields) -> RunConfig:
    return RunConfig(out=str(tmp_path / "run"), shared={"data": str(tmp_path / "rooms")}, **fields)


def test_the_recipe_averages_three_more_heads_and_the_mirror_with_16_pseudo_samples_a_step(tmp_path):
    run = config(tmp_path)
    improve = stage_configs(run)[2]
    assert (improve.pseudo_batch_size, improve.teacher_views) == (16, "flip")
    assert extra_heads(run) == RECIPE_EXTRA_HEADS == 3
    assert improve.teacher_heads == [str(tmp_path / "run" / "heads" / f"k{k}" / "checkpoint") for k in (1, 2, 3)]


def test_the_config_s_own_settings_win_over_the_recipe(tmp_path):
    run = config(tmp_path, improve={"pseudo_batch_size": 4, "teacher_views": "all"}, extra_heads=0)
    improve = stage_configs(run)[2]
    assert (improve.pseudo_batch_size, improve.teacher_views, improve.teacher_heads) == (4, "all", [])


@pytest.mark.parametrize("fields", [{"recipe": False}, {"improve": {"preset": "release"}}])
def test_without_the_recipe_or_with_a_preset_the_improve_command_s_settings_stand(tmp_path, fields):
    from diff2in1.config import config_from_dict
    from diff2in1.self_improving.config import ImproveConfig

    run = config(tmp_path, **fields)
    improve = stage_configs(run)[2]
    expected = config_from_dict(ImproveConfig, dict(fields.get("improve", {})), "expected")
    assert (improve.pseudo_batch_size, improve.teacher_views) == (expected.pseudo_batch_size, expected.teacher_views)
    assert extra_heads(run) == 0 and improve.teacher_heads == []


@pytest.mark.parametrize(("trained", "expected"), [(["normal", "depth", "semseg"], ["normal", "depth"]),
                                                   (["depth", "edge"], ["depth"]), (["semseg"], [])])
def test_theta_c_labels_the_geometry_tasks_the_warm_up_trained(tmp_path, trained, expected):
    write_json(tmp_path / "metrics.json", {"split": "test", "metrics": {task: {"x": 0.0} for task in trained}})
    assert recipe_pseudo_tasks(tmp_path) == expected


def test_a_recipe_that_is_not_true_or_false_is_refused_naming_the_file(tmp_path):
    from diff2in1.workflow.run import load_run_config

    path = tmp_path / "run.yaml"
    path.write_text("recipe: best\n")
    with pytest.raises(ValueError, match=r"run\.yaml: recipe must be true or false"):
        load_run_config(path)
