"""`Diff2in1Pipeline` on a trained run folder: three-line use, portable folders, backbone checks, creation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diff2in1 import Diff2in1Pipeline
from diff2in1.backbones.tiny import save_tiny_pixel_unet
from diff2in1.perception.checkpoint import load_perception, read_perception_info, save_perception


def photo(tmp_path: Path, height: int = 37, width: int = 53) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def test_a_trained_run_folder_predicts_in_three_lines(pixel_checkpoint: Path, tmp_path: Path):
    pipe = Diff2in1Pipeline.from_pretrained(pixel_checkpoint)
    out = pipe(Image.open(photo(tmp_path)))
    assert out.normal.shape == (37, 53, 3)
    assert out.depth.shape == (37, 53) and out.semseg.shape == (37, 53) and out.semseg.dtype == np.int64
    assert np.allclose(np.linalg.norm(out.normal, axis=-1), 1, atol=1e-4)
    assert set(out.confidence) == {"normal", "semseg", "edge", "saliency"} and (out.confidence["normal"] >= 0).all()
    assert out.semseg.max() < len(pipe.classes)
    assert out.edge.shape == out.saliency.shape == (37, 53) and 0 <= out.edge.min() and out.saliency.max() <= 1
    assert out.human_parts is None  # rooms have no people: no head, no prediction
    again = pipe(Image.open(photo(tmp_path)))
    assert np.array_equal(again.normal, out.normal), "predictions are repeatable (seeded perception noise)"


def test_a_copied_folder_with_another_copy_of_the_backbone_predicts_the_same(
        pixel_checkpoint: Path, tiny_pixel_path: Path, tmp_path: Path):
    image = np.asarray(Image.open(photo(tmp_path)))
    pipe = Diff2in1Pipeline.from_pretrained(pixel_checkpoint)
    saved = pipe.save_pretrained(tmp_path / "saved")
    moved = shutil.copytree(saved, tmp_path / "elsewhere" / "model")
    other_copy = shutil.copytree(tiny_pixel_path, tmp_path / "elsewhere" / "backbone_copy")
    loaded = Diff2in1Pipeline.from_pretrained(moved, backbone=other_copy)
    assert loaded.backbone_source == str(other_copy)
    before, after = pipe(image), loaded(image)
    for task in ("normal", "depth", "semseg"):
        assert np.array_equal(getattr(before, task), getattr(after, task)), task
    assert read_perception_info(moved)["backbone"]["fingerprint"] == read_perception_info(pixel_checkpoint)["backbone"]["fingerprint"]


def test_include_backbone_makes_a_self_contained_folder(pixel_checkpoint: Path, tmp_path: Path):
    image = np.asarray(Image.open(photo(tmp_path)))
    pipe = Diff2in1Pipeline.from_pretrained(pixel_checkpoint)
    saved = pipe.save_pretrained(tmp_path / "saved", include_backbone=True)
    moved = shutil.copytree(saved, tmp_path / "moved")
    shutil.rmtree(saved)  # nothing may point back at the first folder
    info = json.loads((moved / "perception.json").read_text())
    assert info["backbone"]["included"] and info["backbone"]["spec"] == "backbone"
    loaded = Diff2in1Pipeline.from_pretrained(moved)
    assert Path(loaded.backbone_source) == moved / "backbone"
    assert np.array_equal(loaded(image).normal, pipe(image).normal)


def test_a_backbone_with_another_fingerprint_is_refused_naming_both(pixel_checkpoint: Path, tmp_path: Path):
    other = save_tiny_pixel_unet(tmp_path / "other_unet", seed=1)
    expected = read_perception_info(pixel_checkpoint)["backbone"]["fingerprint"]
    with pytest.raises(ValueError, match="fingerprint") as error:
        Diff2in1Pipeline.from_pretrained(pixel_checkpoint, backbone=other)
    message = str(error.value)
    assert expected in message and str(other) in message and "perception.json" in message
    assert message.count("fingerprint ") >= 2  # the checkpoint's and the given backbone's


def test_theta_c_is_chosen_by_which_and_survives_save_pretrained(pixel_checkpoint: Path, tmp_path: Path):
    model, info = load_perception(pixel_checkpoint)
    creation, _ = load_perception(pixel_checkpoint)
    with torch.no_grad():
        for parameter in creation.heads["depth"].parameters():
            parameter.add_(0.5)  # a θC that predicts other depths than θE
    improve = save_perception(tmp_path / "improve", model, {k: v for k, v in info.items() if k != "model"}, creation)
    image = np.asarray(Image.open(photo(tmp_path)))
    theta_e = Diff2in1Pipeline.from_pretrained(improve, which="theta_e")(image)
    pipe_c = Diff2in1Pipeline.from_pretrained(improve, which="theta_c")
    theta_c = pipe_c(image)
    assert not np.allclose(theta_e.depth, theta_c.depth)
    again = Diff2in1Pipeline.from_pretrained(pipe_c.save_pretrained(tmp_path / "saved"), which="creation")
    assert np.array_equal(again(image).depth, theta_c.depth)
    with pytest.raises(ValueError, match="theta_c"):
        Diff2in1Pipeline.from_pretrained(improve, which="ema")


def test_create_returns_images_and_labels_at_the_input_size(pixel_checkpoint: Path):
    pipe = Diff2in1Pipeline.from_pretrained(pixel_checkpoint)
    image = np.random.default_rng(1).random((741, 500, 3)).astype(np.float32)
    generator = torch.Generator().manual_seed(0)
    out = pipe.create(image, t_star=300, steps=5, generator=generator)
    assert out.images.shape == (741, 500, 3) and 0 <= out.images.min() and out.images.max() <= 1
    assert out.normal.shape == (741, 500, 3) and out.semseg.shape == (741, 500)
    again = pipe.create(image, t_star=300, steps=5, generator=torch.Generator().manual_seed(0))
    assert np.array_equal(again.images, out.images) and np.array_equal(again.semseg, out.semseg)
    batch = pipe.create(torch.rand(3, 3, 16, 16), t_star=300, steps=5, output_type="pt",
                        generator=[torch.Generator().manual_seed(i) for i in range(3)], batch_size=2)
    assert batch.images.shape == (3, 3, 16, 16) and batch.depth.shape == (3, 1, 16, 16)


def test_a_folder_without_a_checkpoint_names_the_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="perception.json"):
        Diff2in1Pipeline.from_pretrained(tmp_path)


def test_predict_and_evaluate_commands_go_through_the_pipeline(pixel_checkpoint: Path, rooms32: Path,
                                                               tmp_path: Path):
    from diff2in1.cli.main import main

    image = np.asarray(Image.open(photo(tmp_path)))
    (tmp_path / "images").mkdir()
    Image.fromarray(image).save(tmp_path / "images" / "photo.png")
    assert main(["predict", "--checkpoint", str(pixel_checkpoint), "--input", str(tmp_path / "images"),
                 "--out", str(tmp_path / "pred"), "--ensemble", "2"]) == 0
    written = np.asarray(Image.open(tmp_path / "pred" / "semseg" / "photo.png"))
    assert np.array_equal(written, Diff2in1Pipeline.from_pretrained(pixel_checkpoint)(image, ensemble=2).semseg)
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--checkpoint", str(pixel_checkpoint), "--data", str(rooms32), "--out", str(out),
                 "--which", "theta_e", "theta_c"]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["theta_e"] == metrics["theta_c"]  # a warm-up checkpoint: θC starts as θE


def test_export_writes_a_folder_that_loads_without_the_original_backbone(pixel_checkpoint: Path, tmp_path: Path):
    from diff2in1.cli.main import main

    assert main(["export", "--checkpoint", str(pixel_checkpoint), "--out", str(tmp_path / "exported"),
                 "--include-backbone", "true"]) == 0
    moved = shutil.copytree(tmp_path / "exported", tmp_path / "moved")
    image = np.asarray(Image.open(photo(tmp_path)))
    loaded = Diff2in1Pipeline.from_pretrained(moved)
    assert Path(loaded.backbone_source) == moved / "backbone"
    assert np.array_equal(loaded(image).depth, Diff2in1Pipeline.from_pretrained(pixel_checkpoint)(image).depth)


def test_the_readme_python_example_runs(pixel_checkpoint: Path, tmp_path: Path):
    """The code block of the README's "Python" section, on a trained run folder and a 37x53 photo."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = readme.split("## Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace('"runs/demo/improve/checkpoint"', repr(str(pixel_checkpoint)))
    code = code.replace('"photo.jpg"', repr(str(photo(tmp_path))))
    lines = code.strip().splitlines()
    assert lines[-1].startswith("out.normal.shape == (H, W, 3)")
    lines[-1] = "assert " + lines[-1]
    namespace = {"H": 37, "W": 53}
    exec("\n".join(lines), namespace)  # noqa: S102 (the README's own example)
    assert namespace["out"].depth.shape == (37, 53)


def test_dtype_casts_the_backbone_after_the_fingerprint_check(pixel_checkpoint: Path, tmp_path: Path):
    """A half-precision backbone is accepted (the check runs before the cast) and predicts nearly the same."""
    image = np.asarray(Image.open(photo(tmp_path)))
    full = Diff2in1Pipeline.from_pretrained(pixel_checkpoint)(image)
    half = Diff2in1Pipeline.from_pretrained(pixel_checkpoint, dtype=torch.bfloat16)
    assert half.backbone.dtype == torch.bfloat16 and next(half.head.parameters()).dtype == torch.float32
    out = half(image)
    assert out.normal.dtype == np.float32 and np.abs(out.normal - full.normal).max() < 0.2
