"""`diff2in1 run`'s control has the improve stage's compute: its steps, views and EMA, and as many images
per step, all real."""

from __future__ import annotations

import pytest

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
