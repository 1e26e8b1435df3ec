"""A backbone that trains with the heads (``--train-backbone lora|full``): warm-up -> create -> improve ->
export -> pipeline, exact resume, the untouched generator, and checkpoints that refuse other UNet weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from launch_helpers import log_rows, log_steps, run_killed
from PIL import Image

from diff2in1.backbones import load_backbone
from diff2in1.backbones.adapters import attach_trained_unet
from diff2in1.cli.main import main
from diff2in1.fileio import load_tensors, read_json, save_tensors
from diff2in1.perception.pipeline import THETA_C, THETA_E, Diff2in1Pipeline

LORA = ["--train-backbone", "lora", "--lora-rank", "4"]


def rooms(root: Path, size: int, num: int = 10, seed: int = 4) -> Path:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    return generate_rooms(RoomsConfig(out=str(root / "rooms"), num=num, size=size, seed=seed, test_fraction=0.3),
                          progress=False)


@pytest.fixture(scope="module")
def rooms16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rooms(tmp_path_factory.mktemp("trainable16"), 16)


def common(data: Path, backbone: Path) -> list[str]:
    return ["--data", str(data), "--backbone", str(backbone), "--batch-size", "2", "--progress", "false"]


def warmup(data: Path, backbone: Path, out: Path, steps: int = 3, *extra: str) -> Path:
    assert main(["warmup", *common(data, backbone), "--out", str(out), "--steps", str(steps), "--channels", "8",
                 "--lr", "1e-2", "--lr-warmup", "0", *extra]) == 0
    return out / "checkpoint"


def improve(data: Path, backbone: Path, warm: Path, synthetic: Path, out: Path, steps: int = 2, *extra: str) -> Path:
    assert main(["improve", *common(data, backbone), "--out", str(out), "--steps", str(steps), "--warmup", str(warm),
                 "--synthetic", str(synthetic), "--pseudo-batch-size", "2", "--views", "2", "--ema-decay", "0.5",
                 "--lr", "1e-2", "--lr-warmup", "0", *extra]) == 0
    return out / "checkpoint"


def first_test_images(data: Path, count: int = 2) -> torch.Tensor:
    """The first test images of a rooms set, Bx3xHxW in [0, 1]."""
    paths = sorted((data / "test" / "image").glob("*.png"))[:count]
    return torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1).float() / 255
                        for p in paths])


def predictions(pipe: Diff2in1Pipeline, images: torch.Tensor) -> dict[str, torch.Tensor]:
    out = pipe(images, output_type="pt")
    return {task: getattr(out, task) for task in pipe.tasks}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)
    for task in a:
        assert torch.equal(a[task], b[task]), task


def assert_apart(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert any(not torch.allclose(a[t].float(), b[t].float(), atol=1e-6) for t in ("normal", "depth") if t in a)


def start_weights(backbone_path: Path, kind: str, settings: dict) -> dict[str, torch.Tensor]:
    """The LoRA adapters' weights at the start of a run with ``--seed 0`` (what attach_trained_unet draws)."""
    return attach_trained_unet(load_backbone(kind, backbone_path), settings, seed=0).state_dict()


@pytest.fixture(scope="module")
def lora_run(rooms16: Path, tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """warm-up (LoRA) -> create (with its checkpoint) -> improve (on the created images) on the tiny pixel UNet."""
    root = tmp_path_factory.mktemp("lora_run")
    warm = warmup(rooms16, tiny_pixel_path, root / "warmup", 3, *LORA)
    assert main(["create", "--checkpoint", str(warm), "--data", str(rooms16), "--out", str(root / "created"),
                 "--steps", "5", "--per-image", "1", "--progress", "false"]) == 0
    assert any((root / "created" / "train" / "image").iterdir())
    improved = improve(rooms16, tiny_pixel_path, warm, root / "created", root / "improve")
    return {"root": root, "warmup": warm, "improve": improved, "created": root / "created"}


def test_lora_checkpoints_hold_the_trained_adapters(lora_run, tiny_pixel_path):
    warm, improved = lora_run["warmup"], lora_run["improve"]
    assert (warm / "model_unet.safetensors").is_file() and not (warm / "theta_c_unet.safetensors").exists()
    assert (improved / "model_unet.safetensors").is_file() and (improved / "theta_c_unet.safetensors").is_file()
    fresh = load_backbone("pixel", tiny_pixel_path).fingerprint()
    for folder in (warm, improved):
        spec = read_json(folder / "perception.json")["backbone"]
        assert spec["trained"]["mode"] == "lora" and spec["trained"]["rank"] == 4
        assert spec["fingerprint"] == spec["trained"]["base_fingerprint"] == fresh
    start = start_weights(tiny_pixel_path, "pixel", read_json(warm / "perception.json")["backbone"]["trained"])
    trained = load_tensors(warm / "model_unet.safetensors")
    assert sorted(trained) == sorted(start) and all("lora_" in k for k in trained)
    assert all(not start[k].any() for k in start if "lora_B" in k)  # peft's start: B = 0
    assert any(trained[k].abs().max() > 0 for k in trained if "lora_B" in k), "warm-up left every lora_B at zero"
    assert any(not torch.equal(trained[k], start[k]) for k in trained if "lora_A" in k)
    theta_e, theta_c = (load_tensors(improved / name) for name in ("model_unet.safetensors", "theta_c_unet.safetensors"))
    assert any(not torch.equal(theta_e[k], trained[k]) for k in trained), "improve did not train the adapters"
    assert any(not torch.equal(theta_c[k], theta_e[k]) for k in trained), "θC's adapters are θE's"
    assert read_json(warm / "perception.json")["backbone"]["trained"]["fingerprint"] != \
        read_json(improved / "perception.json")["backbone"]["trained"]["fingerprint"]


def test_an_exported_lora_pipeline_predicts_as_the_runs_checkpoint(lora_run, rooms16, tmp_path):
    images = first_test_images(rooms16)
    exported = tmp_path / "exported"
    assert main(["export", "--checkpoint", str(lora_run["improve"]), "--out", str(exported)]) == 0
    assert {"model_unet.safetensors", "theta_c_unet.safetensors"} <= {p.name for p in exported.iterdir()}
    moved = tmp_path / "elsewhere" / "pipe"
    shutil.copytree(exported, moved)
    shutil.rmtree(exported)
    for which in (THETA_E, THETA_C):
        run_pipe = Diff2in1Pipeline.from_pretrained(lora_run["improve"], which=which)
        other = Diff2in1Pipeline.from_pretrained(moved, which=which)
        assert other.backbone.trained is not None and other.backbone.trained.mode == "lora"
        expected = predictions(run_pipe, images)
        assert_same(predictions(other, images), expected)
        with other.backbone.trained.untouched():  # the trained adapters are what predicts
            assert_apart(predictions(other, images), expected)
    e = predictions(Diff2in1Pipeline.from_pretrained(moved, which=THETA_E), images)
    c = predictions(Diff2in1Pipeline.from_pretrained(moved, which=THETA_C), images)
    assert_apart(e, c)


def test_creation_uses_the_untouched_generator(lora_run, rooms16, tiny_pixel_path):
    images = first_test_images(rooms16)
    pipe = Diff2in1Pipeline.from_pretrained(lora_run["improve"])

    def create(p: Diff2in1Pipeline):
        return p.create(images, steps=5, generator=torch.Generator().manual_seed(7), output_type="pt")

    first = create(pipe)
    generator = torch.Generator().manual_seed(11)
    pipe.unet_weights[THETA_E] = {k: torch.randn(v.shape, generator=generator)
                                  for k, v in pipe.unet_weights[THETA_E].items()}
    perturbed = create(pipe)
    assert torch.equal(first.images, perturbed.images), "the adapters changed the created images"
    assert not torch.allclose(first.normal, perturbed.normal, atol=1e-6), "the labels ignore the adapters"
    # and the images are the pretrained generator's: the same heads on a backbone that never trained
    frozen = Diff2in1Pipeline(load_backbone("pixel", tiny_pixel_path), pipe.heads, pipe.info)
    assert frozen.backbone.trained is None
    assert torch.equal(create(frozen).images, first.images)


def test_a_checkpoint_with_another_runs_unet_weights_is_refused_naming_both(lora_run, tmp_path):
    folder = tmp_path / "swapped"
    shutil.copytree(lora_run["warmup"], folder)
    shutil.copy(lora_run["improve"] / "model_unet.safetensors", folder / "model_unet.safetensors")
    expected = read_json(folder / "perception.json")["backbone"]["trained"]["fingerprint"]
    found = read_json(lora_run["improve"] / "perception.json")["backbone"]["trained"]["fingerprint"]
    assert expected != found
    with pytest.raises(ValueError, match="fingerprint") as error:
        Diff2in1Pipeline.from_pretrained(folder)
    assert expected in str(error.value) and found in str(error.value)
    # weights of other adapters (a missing name) are refused too
    tensors = load_tensors(lora_run["warmup"] / "model_unet.safetensors")
    save_tensors(folder / "model_unet.safetensors", dict(list(tensors.items())[1:]))
    with pytest.raises(ValueError, match="model_unet.safetensors"):
        Diff2in1Pipeline.from_pretrained(folder)


def evaluate_cli(checkpoint: Path, data: Path, out: Path, *which: str) -> dict:
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out),
                 "--which", *which]) == 0
    return read_json(out)["metrics"]


def assert_reproduced(found: dict, recorded: dict, head: str) -> None:
    for task, metrics in recorded.items():
        for name, value in metrics.items():
            assert found[task][name] == pytest.approx(value, rel=1e-4, abs=1e-9), (head, task, name)


def test_evaluate_scores_theta_e_and_theta_c_on_their_own_unet_weights(lora_run, rooms16, tmp_path):
    found = evaluate_cli(lora_run["improve"], rooms16, tmp_path / "metrics.json", "theta_e", "theta_c")
    assert sorted(found) == ["theta_c", "theta_e"]
    assert found["theta_e"] != found["theta_c"]
    # θC's heads read θC's adapters: on θE's they predict otherwise
    images = first_test_images(rooms16)
    own = predictions(Diff2in1Pipeline.from_pretrained(lora_run["improve"], which=THETA_C), images)
    pipe = Diff2in1Pipeline.from_pretrained(lora_run["improve"], which=THETA_C)
    pipe.unet_weights[THETA_C] = pipe.unet_weights[THETA_E]
    assert_apart(predictions(pipe, images), own)


def test_evaluate_reproduces_the_lora_warmups_metrics(lora_run, rooms16, tmp_path):
    recorded = read_json(lora_run["warmup"].parent / "metrics.json")["metrics"]
    found = evaluate_cli(lora_run["warmup"], rooms16, tmp_path / "metrics.json", "theta_e")
    assert_reproduced(found["theta_e"], recorded, "theta_e")


def test_evaluate_reproduces_the_lora_improves_metrics(lora_run, rooms16, tmp_path):
    """As tests/self_improving/test_evaluate_reproduces_runs.py for a frozen backbone: one evaluation,
    wherever it runs."""
    recorded = read_json(lora_run["improve"].parent / "metrics.json")["metrics"]
    found = evaluate_cli(lora_run["improve"], rooms16, tmp_path / "metrics.json", "theta_e", "theta_c")
    for head in ("theta_e", "theta_c"):
        assert_reproduced(found[head], recorded[head], head)


def test_full_trains_every_unet_weight_and_the_pipeline_predicts_with_them(rooms16, tiny_pixel_path, tmp_path):
    warm = warmup(rooms16, tiny_pixel_path, tmp_path / "full", 2, "--train-backbone", "full",
                  "--backbone-lr-scale", "0.1")
    assert read_json(warm / "perception.json")["backbone"]["trained"]["mode"] == "full"
    pretrained = load_backbone("pixel", tiny_pixel_path)
    base = dict(pretrained.unet.named_parameters())
    trained = load_tensors(warm / "model_unet.safetensors")
    assert sorted(trained) == sorted(base)
    assert any(not torch.equal(trained[k], base[k].detach()) for k in trained), "no UNet weight changed"
    images = first_test_images(rooms16)
    pipe = Diff2in1Pipeline.from_pretrained(warm)
    expected = predictions(pipe, images)
    assert_same(predictions(Diff2in1Pipeline.from_pretrained(warm), images), expected)
    # the same heads on the pretrained UNet predict otherwise; with the trained weights loaded by hand, the same
    assert_apart(predictions(Diff2in1Pipeline(pretrained, pipe.heads, pipe.info), images), expected)
    attach_trained_unet(pretrained, {"mode": "full"}).load_state_dict(trained)
    by_hand = Diff2in1Pipeline(pretrained, pipe.heads, pipe.info)
    assert_same(predictions(by_hand, images), expected)


def test_lora_on_tiny_stable_diffusion_warmup_improve_predict(tiny_sd_path, tmp_path):
    data = rooms(tmp_path, 32, num=6)
    warm = warmup(data, tiny_sd_path, tmp_path / "warmup", 2, *LORA, "--tasks", "normal", "depth")
    assert (warm / "model_unet.safetensors").is_file()
    trained = load_tensors(warm / "model_unet.safetensors")
    assert any("attn1.to_q.lora_A" in k for k in trained) and any("conv1.lora_A" in k for k in trained)
    assert any(trained[k].abs().max() > 0 for k in trained if "lora_B" in k)
    improved = improve(data, tiny_sd_path, warm, data, tmp_path / "improve", 2, "--tasks", "normal", "depth")
    assert read_json(improved / "perception.json")["backbone"]["trained"]["mode"] == "lora"
    assert (improved / "theta_c_unet.safetensors").is_file()
    images = first_test_images(data)
    exported = tmp_path / "exported"
    assert main(["export", "--checkpoint", str(improved), "--out", str(exported)]) == 0
    pipe = Diff2in1Pipeline.from_pretrained(improved)
    expected = predictions(pipe, images)
    assert_same(predictions(Diff2in1Pipeline.from_pretrained(exported), images), expected)
    with pipe.backbone.trained.untouched():
        assert_apart(predictions(pipe, images), expected)


def test_a_killed_and_resumed_lora_warmup_matches_the_uninterrupted_run(rooms16, tiny_pixel_path, tmp_path):
    def argv(out: Path, *extra: str) -> list[str]:
        return ["warmup", "--data", str(rooms16), "--backbone", str(tiny_pixel_path), "--out", str(out),
                "--steps", "5", "--batch-size", "2", "--channels", "8", "--lr", "1e-2", "--checkpoint-every", "2",
                "--progress", "false", *LORA, *extra]

    assert main(argv(tmp_path / "straight")) == 0
    run_killed(argv(tmp_path / "killed"), step=3)  # saved at 2, logged 3, then killed
    assert log_steps(tmp_path / "killed" / "log.csv") == [1, 2, 3]
    assert main(argv(tmp_path / "killed", "--resume")) == 0
    assert log_steps(tmp_path / "killed" / "log.csv") == list(range(1, 6))
    for a, b in zip(log_rows(tmp_path / "straight" / "log.csv"), log_rows(tmp_path / "killed" / "log.csv")):
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-6, abs=1e-7), a["step"]
    for name in ("model.safetensors", "model_unet.safetensors"):
        straight = load_tensors(tmp_path / "straight" / "checkpoint" / name)
        resumed = load_tensors(tmp_path / "killed" / "checkpoint" / name)
        assert sorted(straight) == sorted(resumed)
        assert all(torch.allclose(straight[k], resumed[k], atol=1e-6) for k in straight), name
    assert read_json(tmp_path / "killed" / "checkpoint" / "perception.json")["backbone"]["trained"]["fingerprint"] \
        == read_json(tmp_path / "straight" / "checkpoint" / "perception.json")["backbone"]["trained"]["fingerprint"]


def test_a_stopped_and_resumed_lora_improve_matches_the_uninterrupted_run(lora_run, rooms16, tiny_pixel_path,
                                                                          tmp_path, stop_after_save):
    """As tests/self_improving/test_improve_stage.py's resume test, with θE's and θC's adapters compared too."""
    import diff2in1.self_improving.improve as improve_module

    def argv(out: Path, *extra: str) -> list[str]:
        return ["improve", *common(rooms16, tiny_pixel_path), "--out", str(out), "--steps", "4",
                "--checkpoint-every", "1", "--warmup", str(lora_run["warmup"]), "--synthetic",
                str(lora_run["created"]), "--pseudo-batch-size", "2", "--views", "2", "--ema-decay", "0.5",
                "--lr", "1e-2", "--lr-warmup", "0", *extra]

    assert main(argv(tmp_path / "straight")) == 0
    with stop_after_save(improve_module, 2):
        main(argv(tmp_path / "stopped"))
    assert main(argv(tmp_path / "stopped", "--resume")) == 0
    straight, resumed = log_rows(tmp_path / "straight" / "log.csv"), log_rows(tmp_path / "stopped" / "log.csv")
    assert [row["step"] for row in resumed] == ["1", "2", "3", "4"]
    for a, b in zip(straight, resumed):
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-6, abs=1e-7), f"step {a['step']}"
    for name in ("model.safetensors", "theta_c.safetensors", "model_unet.safetensors", "theta_c_unet.safetensors"):
        x = load_tensors(tmp_path / "straight" / "checkpoint" / name)
        y = load_tensors(tmp_path / "stopped" / "checkpoint" / name)
        assert all(torch.allclose(x[k], y[k], atol=1e-6) for k in x), name


def test_run_chooses_on_each_models_theta_c_with_its_own_unet_weights(lora_run, rooms16, tiny_pixel_path, tmp_path):
    import dataclasses

    from diff2in1.perception.evaluation import evaluate
    from diff2in1.self_improving.config import ImproveConfig
    from diff2in1.self_improving.improve import with_warmup_taps
    from diff2in1.training.head_training import HeadTraining
    from diff2in1.workflow.choose import MODELS, validation_scores

    run = tmp_path / "run"
    for stage, checkpoint in (("improve", lora_run["improve"]), ("control", lora_run["warmup"])):
        shutil.copytree(checkpoint, run / stage / "checkpoint")
    config = ImproveConfig(data=str(rooms16), backbone=str(tiny_pixel_path), warmup=str(lora_run["warmup"]),
                           val_fraction=0.5, out=str(tmp_path / "improve"), progress=False)
    scores = validation_scores(config, run)
    split = HeadTraining(dataclasses.replace(with_warmup_taps(config), eval_split="val"), tmp_path / "split").eval_set
    for model, stage in MODELS.items():  # the pipeline each model exports to, on the same images
        pipe = Diff2in1Pipeline.from_pretrained(run / stage / "checkpoint", which=THETA_C)
        with pipe.unet_of(THETA_C):
            expected = evaluate(pipe.backbone, {model: pipe.head}, split, progress=False)[model]
        for task, metrics in expected.items():
            for name, value in metrics.items():
                assert scores[model][task][name] == pytest.approx(value, rel=1e-5, nan_ok=True), (model, task, name)
    assert scores["diff2in1"]["normal"]["mean"] != scores["control"]["normal"]["mean"]
