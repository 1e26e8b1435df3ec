"""The self-improving stage: θC is an EMA of θE, labels samples without ground truth from an ensemble of
views, the student trains on one view; the control shares everything but those samples."""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diff2in1.cli.main import main
from diff2in1.config import add_dataclass_arguments, config_from_args, config_from_dict
from diff2in1.fileio import load_tensors, read_json, read_yaml
from diff2in1.self_improving.config import RELEASE_PRESET
from diff2in1.self_improving.improve import ImproveConfig, train_improve


@pytest.fixture(scope="module")
def warm(tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms
    from diff2in1.training.warmup import WarmupConfig, train_warmup

    root = tmp_path_factory.mktemp("improve")
    rooms = generate_rooms(RoomsConfig(out=str(root / "rooms"), num=10, size=16), progress=False)
    run = train_warmup(WarmupConfig(backbone=str(tiny_pixel_path), data=str(rooms), out=str(root / "warmup"),
                                    steps=2, batch_size=2, channels=8, progress=False))
    photos = root / "photos"
    photos.mkdir()
    for i in range(3):  # unlabelled photos of another size: they are resized to the backbone's
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    # Real images stand in for created ones: the mechanics under test do not depend on where they came from.
    return {"root": root, "rooms": rooms, "checkpoint": run / "checkpoint", "backbone": tiny_pixel_path,
            "photos": photos}


def _config(warm: dict[str, Path], name: str, **kw) -> ImproveConfig:
    return ImproveConfig(**{"backbone": str(warm["backbone"]), "data": str(warm["rooms"]), "warmup": str(warm["checkpoint"]),
                            "synthetic": str(warm["rooms"]), "out": str(warm["root"] / name), "steps": 3,
                            "batch_size": 2, "pseudo_batch_size": 2, "views": 3, "progress": False,
                            "lr_warmup": 0, **kw})


def test_theta_c_follows_theta_e_as_an_ema(warm):
    out = train_improve(_config(warm, "ema", ema_decay=0.5, lr=1e-2))
    start = load_tensors(warm["checkpoint"] / "model.safetensors")
    theta_e = load_tensors(out / "checkpoint" / "model.safetensors")
    theta_c = load_tensors(out / "checkpoint" / "theta_c.safetensors")
    key = next(k for k in start if k.endswith("weight"))
    assert not torch.equal(theta_e[key], start[key])
    assert not torch.equal(theta_c[key], start[key])
    assert not torch.equal(theta_c[key], theta_e[key])
    metrics = read_json(out / "metrics.json")["metrics"]
    assert set(metrics) == {"theta_e", "theta_c", "theta_e_tta", "theta_c_tta"}
    assert set(metrics["theta_c"]) == {"normal", "depth", "semseg", "edge", "saliency"}
    assert metrics["theta_c"]["normal"]["mean"] != metrics["theta_c_tta"]["normal"]["mean"]


def test_keep_rate_one_leaves_theta_c_at_the_warmup_model(warm):
    out = train_improve(_config(warm, "frozen_c", ema_decay=1.0, lr=1e-2))
    start = load_tensors(warm["checkpoint"] / "model.safetensors")
    theta_c = load_tensors(out / "checkpoint" / "theta_c.safetensors")
    assert all(torch.equal(theta_c[k], start[k]) for k in start)


def test_a_second_round_starts_theta_e_and_theta_c_where_the_first_ended(warm):
    first = train_improve(_config(warm, "round1", ema_decay=0.5, lr=1e-2, pseudo_batch_size=0, synthetic=""))
    second = train_improve(_config(warm, "round2", warmup=str(first / "checkpoint"), ema_decay=1.0, lr=0.0))
    for name in ("model.safetensors", "theta_c.safetensors"):  # θE and θC apart at the end of round 1
        ended, started = load_tensors(first / "checkpoint" / name), load_tensors(second / "checkpoint" / name)
        assert all(torch.equal(ended[k], started[k]) for k in ended), name


def _record_labelling(monkeypatch) -> list[tuple]:
    """(teacher, view store, views) of every call of θC's ensemble during a run."""
    import diff2in1.self_improving.improve as improve_module

    calls = []
    original = improve_module.ensemble_targets

    def recording(model, store, rows, views, *rest):
        calls.append((model, store, list(views)))
        return original(model, store, rows, views, *rest)

    monkeypatch.setattr(improve_module, "ensemble_targets", recording)
    return calls


def test_the_teacher_averages_views_the_student_does_not_see_at_once(warm, monkeypatch):
    calls = _record_labelling(monkeypatch)
    train_improve(_config(warm, "ensemble"))
    assert [views for _, _, views in calls] == [[0, 1, 2]] * 3
    log = list(csv.DictReader(open(warm["root"] / "ensemble" / "log.csv")))
    assert {"pseudo/normal", "pseudo/depth", "pseudo/semseg"} <= set(log[0])


def test_a_shift_teacher_averages_the_image_its_mirror_and_their_shifted_views(warm, monkeypatch):
    calls = _record_labelling(monkeypatch)
    train_improve(_config(warm, "shifts", teacher_views="flip_shifts", view_shift=0.125, steps=1))
    assert [(views, store.views.shift) for _, store, views in calls] == [([0, 1, *range(3000, 3008)], 0.125)]


def test_teacher_heads_are_averaged_with_theta_c_which_keeps_following_theta_e(warm, monkeypatch):
    from diff2in1.self_improving.teacher import HeadEnsemble

    calls = _record_labelling(monkeypatch)
    out = train_improve(_config(warm, "heads", teacher_heads=[str(warm["checkpoint"])], steps=2))
    teachers = [model for model, _, _ in calls]
    assert all(isinstance(m, HeadEnsemble) and len(m.members) == 2 for m in teachers) and len(teachers) == 2
    theta_c = load_tensors(out / "checkpoint" / "theta_c.safetensors")
    assert any(not torch.equal(theta_c[k], v) for k, v in teachers[0].members[1].state_dict().items())


def test_the_control_trains_on_real_samples_only(warm, monkeypatch):
    import diff2in1.self_improving.improve as improve_module

    monkeypatch.setattr(improve_module, "ensemble_targets", lambda *a: pytest.fail("the control has no pseudo labels"))
    out = train_improve(_config(warm, "control", pseudo_batch_size=0, synthetic=""))
    assert "pseudo/total" not in list(csv.DictReader(open(out / "log.csv")))[0]


def test_each_view_of_each_image_runs_the_unet_once_with_the_cache(warm, monkeypatch):
    from diff2in1.training.feature_cache import FeatureCache

    counts = []
    original = FeatureCache._compute

    def counting(self, pairs):
        counts.extend((id(self), pair) for pair in pairs)
        return original(self, pairs)

    monkeypatch.setattr(FeatureCache, "_compute", counting)
    train_improve(_config(warm, "cached", steps=6, eval_flip=False))
    assert counts and len(counts) == len(set(counts))


def test_unlabelled_photos_are_labelled_by_theta_c(warm):
    out = train_improve(_config(warm, "photos", synthetic="", unlabelled=str(warm["photos"])))
    assert (out / "checkpoint" / "theta_c.safetensors").is_file()


@pytest.mark.parametrize("storage", ["ram", "disk"])
def test_a_labelled_folder_as_unlabelled_pool_gives_its_images_only(warm, storage):
    out = train_improve(_config(warm, f"layout_pool_{storage}", synthetic="", unlabelled=str(warm["rooms"]),
                                cache_storage=storage))
    assert (out / "checkpoint" / "theta_c.safetensors").is_file()


def test_pseudo_samples_are_required_for_a_pseudo_batch(warm):
    with pytest.raises(ValueError, match="--synthetic and/or --unlabelled"):
        train_improve(_config(warm, "nothing", synthetic=""))


def test_stored_labels_train_on_the_created_labels(warm, monkeypatch):
    import diff2in1.self_improving.improve as improve_module

    monkeypatch.setattr(improve_module, "ensemble_targets", lambda *a: pytest.fail("stored labels are not re-predicted"))
    train_improve(_config(warm, "stored", labels="stored"))


def test_a_resumed_run_repeats_the_uninterrupted_one(warm, stop_after_save):
    import diff2in1.self_improving.improve as improve_module

    settings = dict(steps=4, checkpoint_every=1, lr=1e-2)
    straight = train_improve(_config(warm, "straight", **settings))
    with stop_after_save(improve_module, 2):
        train_improve(_config(warm, "stopped", **settings))
    resumed = train_improve(_config(warm, "stopped", resume=True, **settings))
    logs = [list(csv.DictReader(open(run / "log.csv"))) for run in (straight, resumed)]
    assert [row["step"] for row in logs[1]] == ["1", "2", "3", "4"]
    for a, b in zip(*logs):
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-4), f"step {a['step']}"


def test_a_run_written_before_theta_c_took_its_name_loads_and_resumes(warm, stop_after_save):
    """Older runs name θC 'creation' (creation.safetensors, has_creation, creation_unet.safetensors, the train
    state's creation.safetensors): they still load, label, resume and start another round."""
    from diff2in1.fileio import save_tensors, write_json
    from diff2in1.perception.checkpoint import load_perception, load_unet_weights
    from diff2in1.perception.pipeline import THETA_C, Diff2in1Pipeline

    settings = dict(steps=4, checkpoint_every=1, lr=1e-2, ema_decay=0.5)
    straight = train_improve(_config(warm, "new_names", **settings))
    import diff2in1.self_improving.improve as improve_module

    with stop_after_save(improve_module, 2):
        train_improve(_config(warm, "old_names", **settings))
    old = warm["root"] / "old_names"
    checkpoint, state = old / "checkpoint", old / "train_state"
    (checkpoint / "theta_c.safetensors").rename(checkpoint / "creation.safetensors")
    (state / "theta_c.safetensors").rename(state / "creation.safetensors")
    info = read_json(checkpoint / "perception.json")
    info["has_creation"] = info.pop("has_theta_c")
    write_json(checkpoint / "perception.json", info)

    theta_c = load_tensors(checkpoint / "creation.safetensors")
    theta_e = load_tensors(checkpoint / "model.safetensors")
    assert any(not torch.equal(theta_c[k], theta_e[k]) for k in theta_c)  # θC is not θE's fallback
    loaded = load_perception(checkpoint, which="theta_c")[0].state_dict()
    assert all(torch.equal(loaded[k], theta_c[k]) for k in theta_c)
    pipe = Diff2in1Pipeline.from_pretrained(checkpoint, which="creation")  # the older name of the head too
    assert pipe.which == THETA_C and all(torch.equal(pipe.head.state_dict()[k].cpu(), theta_c[k]) for k in theta_c)
    round2 = train_improve(_config(warm, "old_names_round2", warmup=str(checkpoint), ema_decay=1.0, lr=0.0, steps=1))
    started = load_tensors(round2 / "checkpoint" / "theta_c.safetensors")
    assert all(torch.equal(started[k], theta_c[k]) for k in theta_c)

    resumed = train_improve(_config(warm, "old_names", resume=True, **settings))
    logs = [list(csv.DictReader(open(run / "log.csv"))) for run in (straight, resumed)]
    assert [row["step"] for row in logs[1]] == ["1", "2", "3", "4"]
    for a, b in zip(*logs):  # θC (the EMA) came back from the train state's creation.safetensors
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-4), f"step {a['step']}"
    ended = [load_tensors(run / "checkpoint" / "theta_c.safetensors") for run in (straight, resumed)]
    assert all(torch.allclose(ended[0][k], ended[1][k], atol=1e-6) for k in ended[0])
    assert read_json(resumed / "checkpoint" / "perception.json")["has_theta_c"]
    assert not (checkpoint / "creation.safetensors").exists()  # rewritten under θC's name, not beside it

    # A trained backbone's θC UNet weights under their older name (read when theta_c_unet.safetensors is absent).
    info["backbone"]["trained"] = {"mode": "lora"}
    write_json(checkpoint / "perception.json", info)
    save_tensors(checkpoint / "model_unet.safetensors", {"w": torch.zeros(2)})
    save_tensors(checkpoint / "creation_unet.safetensors", {"w": torch.ones(2)})
    assert torch.equal(load_unet_weights(checkpoint, "theta_c")["w"], torch.ones(2))
    assert torch.equal(load_unet_weights(checkpoint, "model")["w"], torch.zeros(2))


def test_a_teacher_checkpoint_labels_instead_of_theta_c(warm, monkeypatch):
    calls = _record_labelling(monkeypatch)
    train_improve(_config(warm, "teacher", teacher=str(warm["checkpoint"]), ema_decay=0.5, lr=1e-2))
    teachers = [model for model, _, _ in calls]
    assert len(teachers) == 3 and len({id(m) for m in teachers}) == 1
    start = load_tensors(warm["checkpoint"] / "model.safetensors")
    assert all(torch.equal(p.cpu(), start[k]) for k, p in teachers[0].state_dict().items())  # fixed, not the EMA


def _release(*argv: str, yaml: Path | None = None) -> ImproveConfig:
    """`diff2in1 improve --preset release ARGV` as the command line resolves it."""
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, ImproveConfig)
    return config_from_args(ImproveConfig, parser.parse_args(["--preset", "release", *argv]
                                                             + (["--config", str(yaml)] if yaml else [])))


# A value other than the preset's for each of its options: the default where it differs (the value the
# old rule mistook for 'not given'), another where the default is the preset's own.
NOT_THE_PRESETS = {"ema_decay": 0.99, "labels": "stored"}


def _other_value(name: str):
    default = getattr(ImproveConfig(), name)
    return default if default != RELEASE_PRESET[name] else NOT_THE_PRESETS[name]


def test_the_release_preset_sets_what_the_command_line_leaves_out():
    release = _release()
    assert (release.batch_size, release.pseudo_batch_size, release.soft_labels, release.cos_mask) == (4, 4, False, 0.999)
    assert (release.teacher_views, release.ema_every, release.lr_schedule, release.views) == ("noise", 10, "constant", 1)
    assert config_from_dict(ImproveConfig, {}, "test") == ImproveConfig()


@pytest.mark.parametrize("name", sorted(RELEASE_PRESET))
def test_every_explicit_option_beats_the_preset(name, tmp_path):
    value = _other_value(name)
    assert value != RELEASE_PRESET[name]
    flag = "--" + name.replace("_", "-")
    assert getattr(_release(flag, str(value).lower() if isinstance(value, bool) else str(value)), name) == value
    yaml = tmp_path / "options.yaml"
    yaml.write_text(f"{name}: {str(value).lower() if isinstance(value, bool) else value}\n")
    assert getattr(_release(yaml=yaml), name) == value  # a YAML option beats it too


def test_improve_records_the_options_given_over_the_preset(warm):
    out = warm["root"] / "preset_cli"
    argv = ["improve", "--backbone", str(warm["backbone"]), "--data", str(warm["rooms"]), "--warmup",
            str(warm["checkpoint"]), "--synthetic", str(warm["rooms"]), "--out", str(out), "--steps", "1",
            "--progress", "false", "--preset", "release", "--ema-every", "1", "--views", "6", "--lr", "1e-4"]
    assert main(argv) == 0
    recorded = read_yaml(out / "config.yaml")
    assert (recorded["ema_every"], recorded["views"], recorded["lr"]) == (1, 6, 1e-4)
    assert (recorded["teacher_views"], recorded["lr_schedule"]) == ("noise", "constant")  # the preset's


def test_improve_help_lists_no_warmup_only_option():
    assert not {"channels", "fuse_stride", "max_depth", "flip"} & {f.name for f in dataclasses.fields(ImproveConfig)}
    assert not set(RELEASE_PRESET) - {f.name for f in dataclasses.fields(ImproveConfig)}


def test_a_target_bank_labels_the_whole_pool_every_few_steps(warm, monkeypatch):
    from diff2in1.self_improving.teacher import TargetBank

    refreshes = []
    original = TargetBank.refresh

    def counting(self, model):
        refreshes.append(len(self.store.keys))
        return original(self, model)

    monkeypatch.setattr(TargetBank, "refresh", counting)
    train_improve(_config(warm, "bank", steps=5, teacher_every=2))
    assert len(refreshes) == 3 and refreshes[0] > 2  # steps 0, 2, 4; the whole pool each time


def test_with_a_disk_cache_pools_are_read_when_needed_and_train_the_same_heads(warm, monkeypatch):
    import diff2in1.self_improving.improve as improve_module
    from diff2in1.training.samples import ReadSamples

    pools, original = [], improve_module._pools

    def recording(*args):
        pools.extend(original(*args))
        return pools[-2], pools[-1]

    monkeypatch.setattr(improve_module, "_pools", recording)
    settings = dict(steps=4, teacher_every=2, lr=1e-2, unlabelled=str(warm["photos"]))
    in_ram = train_improve(_config(warm, "pools_ram", **settings))
    on_disk = train_improve(_config(warm, "pools_disk", cache_storage="disk", **settings))
    assert [type(p.samples).__name__ for p in pools] == ["HeldSamples"] * 2 + ["ReadSamples"] * 2
    assert all(not hasattr(p.samples, "batch") for p in pools[2:] if isinstance(p.samples, ReadSamples))
    assert (on_disk / "features").is_dir() and not (on_disk / ".teacher_targets").exists()  # removed at the end
    heads = [load_tensors(run / "checkpoint" / "model.safetensors") for run in (in_ram, on_disk)]
    for key in heads[0]:
        torch.testing.assert_close(heads[0][key], heads[1][key], rtol=1e-4, atol=1e-5, msg=key)


def test_a_disk_target_bank_gives_back_what_a_ram_one_holds(warm):
    from diff2in1.perception.checkpoint import load_perception
    from diff2in1.perception.splits import open_backbone, open_split
    from diff2in1.self_improving.teacher import TargetBank
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.feature_cache import FeatureCache
    from diff2in1.training.samples import ReadSamples

    backbone = open_backbone(str(warm["backbone"]))
    samples = ReadSamples(open_split("rooms", str(warm["rooms"]), "train", None, backbone.sample_size))
    store = FeatureCache(backbone, samples, ViewBank(3))
    model = load_perception(warm["checkpoint"], which="model")[0]
    banks = [TargetBank(store, [0, 1, 2], samples.size, batch_size=3, folder=folder)
             for folder in (None, warm["root"] / "bank")]
    rows = torch.tensor([4, 0, 7])
    for bank in banks:
        bank.refresh(model)
    ram, disk = (bank.get(rows, torch.device("cpu")) for bank in banks)
    assert set(ram) == set(disk) >= {"normal", "probs", "semseg", "mask", "weight"}
    assert disk["semseg"].dtype == torch.long and disk["mask"]["normal"].dtype == torch.bool
    for key in ("normal", "probs", "depth", "semseg"):
        assert torch.equal(ram[key], disk[key]), key
    assert all(torch.equal(ram["mask"][t], disk["mask"][t]) for t in ram["mask"])


def test_a_flip_weight_leans_the_ensemble_towards_the_image_and_its_mirror(warm):
    from diff2in1.perception.checkpoint import load_perception
    from diff2in1.perception.splits import open_backbone, open_split
    from diff2in1.self_improving.teacher import ensemble_targets
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.feature_cache import FeatureCache
    from diff2in1.training.samples import ReadSamples

    backbone = open_backbone(str(warm["backbone"]))
    samples = ReadSamples(open_split("rooms", str(warm["rooms"]), "train", None, backbone.sample_size))
    store = FeatureCache(backbone, samples, ViewBank(4))
    model = load_perception(warm["checkpoint"], which="model")[0]
    rows, size = torch.arange(4), samples.size
    flip, views = ensemble_targets(model, store, rows, [0, 1], size), ensemble_targets(model, store, rows, [0, 1, 2, 3], size)
    leaning = ensemble_targets(model, store, rows, [0, 1, 2, 3], size, flip_weight=1e6)
    assert not torch.allclose(views["depth"], flip["depth"], atol=1e-4)
    torch.testing.assert_close(leaning["depth"], flip["depth"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(leaning["normal"], flip["normal"], atol=1e-3, rtol=1e-3)


def test_unet_passes_hold_at_most_unet_batch_size_images_and_give_the_same_features(warm):
    from diff2in1.data import open_dataset
    from diff2in1.perception.splits import open_backbone
    from diff2in1.self_improving.pools import make_store
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.samples import open_samples

    backbone = open_backbone(str(warm["backbone"]))
    sizes = []
    original = backbone.extract_features

    def counting(images, **kw):
        sizes.append(len(images))
        return original(images, **kw)

    backbone.extract_features = counting
    samples = open_samples(open_dataset("rooms", str(warm["rooms"]), "train"), in_memory=True)
    features = []
    for chunk in (3, 64):
        store = make_store(backbone, samples, ViewBank(3, 0.7, 0.2, 0), _config(warm, "chunks", unet_batch_size=chunk,
                                                                                cache_features=False))
        rows = torch.arange(len(samples)).repeat_interleave(3)
        features.append(store.get(rows, torch.arange(3).repeat(len(samples))))
    assert max(sizes[:-1]) == 3 and sizes[-1] == 3 * len(samples)
    for a, b in zip(*features):  # entries are kept in float16: batching may move them by one of its steps
        torch.testing.assert_close(a, b, rtol=2e-3, atol=1e-3)
