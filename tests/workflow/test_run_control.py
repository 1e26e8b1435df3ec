"""`diff2in1 run`'s control has the improve stage's compute: its steps, views and EMA, as many images per
step, all real, and the steps of the extra heads θC's teacher averages."""

from __future__ import annotations

import pytest
from run_configs import tiny_run_config

from diff2in1.self_improving.config import ImproveConfig
from diff2in1.workflow.run import control_config


@pytest.mark.parametrize("sources", [{"synthetic": "runs/synthetic"}, {"synthetic": "", "unlabelled": "split"}])
def test_the_control_sees_as_many_images_a_step_all_real(sources):
    improve = ImproveConfig(out="runs/x/improve", batch_size=8, pseudo_batch_size=16, steps=300, views=2,
                            ema_decay=0.99, **sources)
    control = control_config(improve)
    assert (control.batch_size, control.pseudo_batch_size) == (24, 0)
    assert not control.synthetic and not control.unlabelled
    assert (control.steps, control.views, control.ema_decay, control.warmup) == (300, 2, 0.99, improve.warmup)
    assert control.out == "runs/x/control"


def test_an_improve_stage_without_samples_beyond_the_labels_is_its_own_control():
    improve = ImproveConfig(out="runs/x/improve", batch_size=8, pseudo_batch_size=8, synthetic="", unlabelled="")
    assert control_config(improve).batch_size == 8


def test_the_control_gets_the_extra_heads_steps_in_its_schedule():
    improve = ImproveConfig(batch_size=8, pseudo_batch_size=16, steps=1500, synthetic="s", teacher_heads=["a", "b"])
    control = control_config(improve, head_steps=2 * 1500)
    assert (control.steps, control.batch_size, control.teacher_heads) == (4500, 24, [])


def test_run_trains_the_extra_heads_theta_c_averages_and_matches_the_control(tmp_path, tiny_pixel_path):
    import torch
    from safetensors.torch import load_file

    from diff2in1.cli.main import main
    from diff2in1.fileio import read_json, read_yaml

    assert main(["run", str(tiny_run_config(tmp_path, tiny_pixel_path, extra_heads=2))]) == 0
    run = tmp_path / "run"
    heads = [str(run / "heads" / k / "checkpoint") for k in ("k1", "k2")]
    improve = read_yaml(run / "improve" / "config.yaml")
    assert improve["teacher_heads"] == heads and improve["pseudo_tasks"] == ["normal", "depth"]  # the recipe's
    seeds = [read_yaml(run / "heads" / k / "config.yaml")["seed"] for k in ("k1", "k2")]
    assert seeds == [101, 102] and read_yaml(run / "warmup" / "config.yaml")["seed"] == 0
    weights = [load_file(run / folder / "checkpoint" / "model.safetensors") for folder in ("warmup", "heads/k1")]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # other heads, same labels
    control = read_yaml(run / "control" / "config.yaml")
    assert control["steps"] == 2 + 2 * 2 and control["teacher_heads"] == []  # improve 2 + two heads of 2
    assert control["batch_size"] == 2 + read_yaml(run / "improve" / "config.yaml")["pseudo_batch_size"]
    assert {"head 1", "head 2"} <= set(read_json(run / "metrics.json")["timings"])


def test_a_bad_extra_heads_value_is_refused_naming_the_file(tmp_path, tiny_pixel_path):
    from diff2in1.workflow.run import load_run_config

    path = tiny_run_config(tmp_path, tiny_pixel_path, extra_heads=-1)
    with pytest.raises(ValueError, match=r"run\.yaml: extra_heads"):
        load_run_config(path)
