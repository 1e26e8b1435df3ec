"""The self-improving stage: θC is an EMA of θE, one UNet pass per step, both heads checkpointed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.backbones.base import DiffusionBackbone
from diff2in1.fileio import load_tensors, read_json
from diff2in1.heads import PerceptionModel
from diff2in1.training.improve import ImproveConfig, train_improve
from diff2in1.training.synthetic import label_with


@pytest.fixture(scope="module")
def warm(tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms
    from diff2in1.training.warmup import WarmupConfig, train_warmup

    root = tmp_path_factory.mktemp("improve")
    rooms = generate_rooms(RoomsConfig(out=str(root / "rooms"), num=10, size=16), progress=False)
    run = train_warmup(WarmupConfig(backbone=str(tiny_pixel_path), data=str(rooms), out=str(root / "warmup"),
                                    steps=2, batch_size=2, channels=8, progress=False))
    # Real images stand in for created ones: the mechanics under test do not depend on where they came from.
    return {"root": root, "rooms": rooms, "checkpoint": run / "checkpoint", "backbone": tiny_pixel_path}


def _config(warm: dict[str, Path], name: str, **kw) -> ImproveConfig:
    return ImproveConfig(**{"backbone": str(warm["backbone"]), "data": str(warm["rooms"]), "warmup": str(warm["checkpoint"]),
                            "synthetic": str(warm["rooms"]), "out": str(warm["root"] / name), "steps": 3,
                            "batch_size": 4, "channels": 8, "progress": False, **kw})


def test_theta_c_follows_theta_e_as_an_ema(warm):
    out = train_improve(_config(warm, "ema", ema_decay=0.5, lr=1e-2))
    start = load_tensors(warm["checkpoint"] / "model.safetensors")
    theta_e = load_tensors(out / "checkpoint" / "model.safetensors")
    theta_c = load_tensors(out / "checkpoint" / "creation.safetensors")
    key = next(k for k in start if k.endswith("weight"))
    assert not torch.equal(theta_e[key], start[key])
    assert not torch.equal(theta_c[key], start[key])
    assert not torch.equal(theta_c[key], theta_e[key])
    metrics = read_json(out / "metrics.json")["metrics"]
    assert set(metrics) == {"theta_e", "theta_c"}
    assert set(metrics["theta_c"]) == {"normal", "depth", "semseg"}


def test_keep_rate_one_leaves_theta_c_at_the_warmup_model(warm):
    out = train_improve(_config(warm, "frozen_c", ema_decay=1.0, lr=1e-2))
    start = load_tensors(warm["checkpoint"] / "model.safetensors")
    theta_c = load_tensors(out / "checkpoint" / "creation.safetensors")
    assert all(torch.equal(theta_c[k], start[k]) for k in start)


def test_one_unet_pass_per_step_for_real_and_synthetic(warm, monkeypatch):
    calls = []
    original = DiffusionBackbone.unet_pass

    def counting(self, noisy, timesteps, cond=None):
        calls.append(noisy.shape[0])
        return original(self, noisy, timesteps, cond)

    monkeypatch.setattr(DiffusionBackbone, "unet_pass", counting)
    train_improve(_config(warm, "shared", cache_features=False, eval_split="val", val_fraction=0.0))
    # No evaluation split ('val' with nothing held out): every pass is a training step over the whole batch.
    assert calls == [4, 4, 4]


def test_confidence_drop_masks_the_least_confident_synthetic_pixels():
    model = PerceptionModel([8], [1], ["normal", "depth", "semseg"], num_classes=3, channels=8)
    features = [torch.randn(2, 8, 8, 8)]
    keep_all = label_with(model, features, (8, 8), confidence_drop=0.0)
    assert all(keep_all["mask"][t].all() for t in ("normal", "depth", "semseg"))
    assert keep_all["normal"].shape == (2, 3, 8, 8) and keep_all["semseg"].dtype == torch.int64
    half = label_with(model, features, (8, 8), confidence_drop=0.5)
    with torch.no_grad():
        confidences = model.confidences(model(features, (8, 8)))
    for task in ("normal", "semseg"):
        kept = half["mask"][task]
        assert abs(kept.float().mean().item() - 0.5) < 0.1
        assert confidences[task][kept].min() >= confidences[task][~kept].max()
    assert half["mask"]["depth"].all()  # no confidence: nothing dropped
    with pytest.raises(ValueError, match="confidence_drop"):
        label_with(model, features, (8, 8), confidence_drop=1.0)


@pytest.mark.parametrize("cache", [True, False])
def test_mirror_labels_read_the_mirror_features(warm, monkeypatch, cache):
    import diff2in1.training.improve as improve_module

    seen = []
    original = improve_module.label_with

    def recording(model, features, size, drop=0.0, mirror=None):
        seen.append(mirror is not None and [m.shape for m in mirror] == [f.shape for f in features])
        return original(model, features, size, drop, mirror)

    monkeypatch.setattr(improve_module, "label_with", recording)
    train_improve(_config(warm, f"mirror{cache}", label_mirror=True, cache_features=cache))
    assert seen == [True] * 3


def test_online_creation_survives_a_resume(warm, monkeypatch):
    import csv

    import diff2in1.training.improve as improve_module

    settings = dict(steps=4, recreate_every=2, checkpoint_every=1, creation_steps=4, t_star=500, lr=1e-2)
    straight = train_improve(_config(warm, "online_straight", **settings))
    assert (straight / "online" / "round_001.safetensors").is_file()

    save = improve_module.save_train_state

    def save_then_stop(out, modules, optimizer, schedule, step):
        save(out, modules, optimizer, schedule, step)
        if step == 3:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(improve_module, "save_train_state", save_then_stop)
        with pytest.raises(KeyboardInterrupt):
            train_improve(_config(warm, "online_stopped", **settings))
    resumed = train_improve(_config(warm, "online_stopped", resume=True, **settings))
    logs = [list(csv.DictReader(open(run / "log.csv"))) for run in (straight, resumed)]
    assert [row["step"] for row in logs[1]] == ["1", "2", "3", "4"]
    for a, b in zip(*logs):
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-4), f"step {a['step']}"


def test_a_teacher_checkpoint_labels_the_synthetic_samples_instead_of_theta_c(warm, monkeypatch):
    import diff2in1.training.improve as improve_module

    labellers = []
    original = improve_module.label_with

    def recording(model, *args):
        labellers.append(model)
        return original(model, *args)

    monkeypatch.setattr(improve_module, "label_with", recording)
    train_improve(_config(warm, "teacher", teacher=str(warm["checkpoint"]), ema_decay=0.5, lr=1e-2))
    assert len(labellers) == 3 and len({id(m) for m in labellers}) == 1
    teacher = labellers[0]
    start = load_tensors(warm["checkpoint"] / "model.safetensors")
    assert all(torch.equal(p.cpu(), start[k]) for k, p in teacher.state_dict().items())  # fixed, not the EMA
