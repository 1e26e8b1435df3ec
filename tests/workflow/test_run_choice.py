"""`diff2in1 run` exports the better of Diff-2-in-1 and its control on validation, and says which."""

from __future__ import annotations

import pytest
from run_configs import tiny_run_config

from diff2in1.workflow.choose import choose


def scores(normal: float, depth: float, miou: float | None = None) -> dict:
    out = {"normal": {"mean": normal, "median": 0.0}, "depth": {"abs_rel": depth, "rmse": 0.0}}
    if miou is not None:
        out["semseg"] = {"miou": miou}
    return out


def test_diff2in1_is_chosen_when_it_wins_most_tasks_headline_metrics():
    model, wins = choose({"diff2in1": scores(10.0, 0.10, 0.60), "control": scores(10.5, 0.09, 0.55)})
    assert model == "diff2in1" and wins == {"normal": "diff2in1", "depth": "control", "semseg": "diff2in1"}


def test_the_control_is_chosen_when_it_wins_most_and_higher_miou_wins():
    model, wins = choose({"diff2in1": scores(10.0, 0.10, 0.50), "control": scores(10.5, 0.09, 0.55)})
    assert model == "control" and wins["semseg"] == "control"


def test_a_tie_keeps_the_control_and_tasks_either_lacks_do_not_count():
    model, wins = choose({"diff2in1": scores(10.0, 0.10), "control": scores(10.5, 0.09, 0.55)})
    assert model == "control" and wins == {"normal": "diff2in1", "depth": "control"}
    assert choose({"diff2in1": scores(10.0, 0.10), "control": scores(10.0, 0.10)})[0] == "control"


def test_every_trained_task_counts_by_its_registry_headline_and_unscored_ones_do_not():
    ours = {**scores(10.0, 0.10), "edge": {"odsF": 0.60}, "human_parts": {"miou": float("nan")}}
    theirs = {**scores(10.5, 0.09), "edge": {"odsF": 0.55}, "human_parts": {"miou": float("nan")}}
    model, wins = choose({"diff2in1": ours, "control": theirs})
    assert model == "diff2in1" and wins == {"normal": "diff2in1", "depth": "control", "edge": "diff2in1"}


def test_no_task_lost_exports_diff2in1_only_where_it_loses_no_task():
    trade = {"diff2in1": scores(10.0, 0.08, 0.50), "control": scores(10.5, 0.09, 0.55)}  # wins 2, loses mIoU
    assert choose(trade)[0] == "diff2in1" and choose(trade, "no_task_lost")[0] == "control"
    clean = {"diff2in1": scores(10.0, 0.09, 0.55), "control": scores(10.5, 0.09, 0.55)}  # wins 1, ties 2
    assert choose(clean, "no_task_lost") == ("diff2in1", {"normal": "diff2in1"})
    same = {"diff2in1": scores(10.0, 0.09), "control": scores(10.0, 0.09)}
    assert choose(same, "no_task_lost")[0] == "control"


def test_an_unknown_rule_is_refused_naming_the_rules(tmp_path):
    from diff2in1.workflow.run import load_run_config

    with pytest.raises(ValueError, match=r"choose_by 'best': choose from \['more_tasks_won', 'no_task_lost'\]"):
        choose({"diff2in1": scores(10.0, 0.1), "control": scores(10.0, 0.1)}, "best")
    path = tmp_path / "run.yaml"
    path.write_text("choose_by: best\n")
    with pytest.raises(ValueError, match=r"run\.yaml: choose_by must be one of \['more_tasks_won', 'no_task_lost'\]"):
        load_run_config(path)


def test_run_exports_the_model_it_chose_on_validation(tmp_path, tiny_pixel_path):
    from safetensors.torch import load_file

    from diff2in1.cli.main import main
    from diff2in1.fileio import read_json, read_yaml
    from diff2in1.perception.pipeline import Diff2in1Pipeline
    from diff2in1.report.metrics_section import chosen_sentence

    assert main(["run", str(tiny_run_config(tmp_path, tiny_pixel_path, val_fraction=0.5))]) == 0
    run = tmp_path / "run"
    chosen = read_json(run / "metrics.json")["chosen"]
    assert chosen["on"] == "val" and set(chosen["scores"]) == {"diff2in1", "control"}
    assert chosen["model"] == choose(chosen["scores"])[0] and chosen["rule"] == "more_tasks_won"
    stage = {"diff2in1": "improve", "control": "control"}[chosen["model"]]
    exported = load_file(run / "model" / "theta_c.safetensors")
    trained = load_file(run / stage / "checkpoint" / "theta_c.safetensors")
    assert exported.keys() == trained.keys() and all((exported[k] == trained[k]).all() for k in trained)
    # images created from the held-out labelled images never train the model chosen on them
    assert read_yaml(run / "improve" / "config.yaml")["synthetic_from"] == "labelled"
    pipe = Diff2in1Pipeline.from_pretrained(run / "model", which="theta_c")
    trained_tasks = read_json(run / stage / "checkpoint" / "perception.json")["tasks"]
    assert set(pipe.tasks) == set(trained_tasks) and pipe.which == "theta_c"

    # another rule chooses anew from the same trained models
    before = (run / "improve" / "checkpoint" / "theta_c.safetensors").stat().st_mtime_ns
    config = tiny_run_config(tmp_path, tiny_pixel_path, val_fraction=0.5, choose_by="no_task_lost")
    assert main(["run", str(config)]) == 0
    strict = read_json(run / "metrics.json")["chosen"]
    assert strict["rule"] == "no_task_lost" and strict["model"] == choose(strict["scores"], "no_task_lost")[0]
    assert (run / "improve" / "checkpoint" / "theta_c.safetensors").stat().st_mtime_ns == before
    assert "worse on none" in chosen_sentence(strict)  # the report says the rule in words


def test_a_run_without_a_validation_split_says_so_and_exports_diff2in1(tmp_path, tiny_pixel_path, capsys):
    from diff2in1.cli.main import main
    from diff2in1.fileio import read_json

    assert main(["run", str(tiny_run_config(tmp_path, tiny_pixel_path))]) == 0
    chosen = read_json(tmp_path / "run" / "metrics.json")["chosen"]
    assert (chosen["model"], chosen["on"]) == ("diff2in1", "none") and "validation split" in chosen["why"]
    assert "no validation split" in capsys.readouterr().out
    assert (tmp_path / "run" / "model" / "perception.json").is_file()


def test_the_demo_holds_out_a_validation_split_and_trains_on_100_labels():
    from diff2in1.cli.run import demo_config_path
    from diff2in1.workflow.run import load_run_config, stage_configs

    improve = stage_configs(load_run_config(demo_config_path()))[2]
    assert improve.val_fraction > 0 and round(improve.num_labelled * (1 - improve.val_fraction)) == 100
