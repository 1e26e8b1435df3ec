"""TrainStep: the optimizer step every loop shares, fp16 loss scaling included, and the EMA it updates."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from diff2in1.training.ema import EMA
from diff2in1.training.loop import make_optimizer
from diff2in1.training.step import TrainStep


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """accelerate keeps one state per process; its own tests reset it, so that fp16 and fp32 runs can alternate."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def _trainer(scaler: torch.amp.GradScaler | None = None, **kw) -> TrainStep:
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True, mixed_precision="fp16")  # without a scaler: plain fp32 on the CPU
    if scaler is not None:
        # accelerate makes no grad scaler on the CPU; install one as it does on a GPU, so the fp16 path
        # (scaled backward, unscale before clipping, skipped steps on overflow) runs here.
        accelerator.scaler, accelerator.native_amp = scaler, True
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    optimizer, schedule = make_optimizer(model, 1e-2, 0.0, steps=10, warmup=0)
    return TrainStep(accelerator, model, optimizer, schedule, **kw)


def _loss(trainer: TrainStep, scale: float = 1.0) -> torch.Tensor:
    x = torch.ones(3, 4) * scale
    return trainer.model(x).square().mean()


def test_fp16_loss_scaling_path_steps_the_scaler_and_skips_an_overflow():
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=1)
    trainer = _trainer(scaler, max_grad_norm=1.0)
    logs = trainer.step(_loss(trainer))
    assert logs["loss_scale"] == 2.0**11  # the scaler was stepped and updated: one good step grows it
    before = {k: v.clone() for k, v in trainer.plain.state_dict().items()}
    logs = trainer.step(_loss(trainer, float("inf")))  # inf gradients: the step is skipped, the scale backs off
    assert logs["loss_scale"] == 2.0**10
    assert all(torch.equal(before[k], v) for k, v in trainer.plain.state_dict().items())
    assert trainer.steps == 2


def test_gradients_are_unscaled_before_clipping():
    scaled = _trainer(torch.amp.GradScaler("cpu", init_scale=2.0**10), max_grad_norm=1e-3)
    plain = _trainer(max_grad_norm=1e-3)
    norm = plain.step(_loss(plain))["grad_norm"]
    assert scaled.step(_loss(scaled))["grad_norm"] == pytest.approx(norm, rel=1e-2)  # fp16 forward: not bit-equal
    assert norm > 1e-2  # so clipping to 1e-3 acted


def test_ema_counter_survives_a_resume_and_its_warmup_ramps_the_keep_rate():
    ema = EMA(nn.Linear(2, 2), decay=0.998, every=10, warmup=True)
    for _ in range(10):
        ema.update(nn.Linear(2, 2))
    assert ema.current_decay() == pytest.approx(1 / 10)  # the first blend (the 10th call)
    for _ in range(15):
        ema.update(nn.Linear(2, 2))
    assert ema.current_decay() == pytest.approx(2 / 11)
    resumed = EMA(nn.Linear(2, 2), decay=0.998, every=10, warmup=True)
    resumed.load_state_dict(ema.state_dict())
    blends = [resumed.update(nn.Linear(2, 2)) for _ in range(5)]
    assert blends == [False, False, False, False, True]  # the 30th call blends, as in the uninterrupted run
    assert EMA(nn.Linear(2, 2), decay=0.9).current_decay() == 0.9  # no ramp unless asked for
