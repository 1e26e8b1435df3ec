"""warmup -> evaluate -> predict end to end on a Stable-Diffusion-layout model (VAE, CLIP text, UNet)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from perception_helpers import warmup_args
from PIL import Image

from diff2in1.backbones.stable_diffusion import StableDiffusionBackbone
from diff2in1.cli.main import main
from diff2in1.data.codecs import decode_normal

METRIC_KEYS = {
    "normal": {"mean", "median", "rmse", "a11.25", "a22.5", "a30"},
    "depth": {"abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3"},
    "semseg": {"miou", "pixel_acc"},
    "edge": {"odsF", "precision", "recall", "threshold"},
    "saliency": {"maxF", "miou", "threshold"},
}


@pytest.fixture(scope="module")
def sd_run(tmp_path_factory: pytest.TempPathFactory, rooms32: Path, tiny_sd_path: Path) -> SimpleNamespace:
    """A 3-step warm-up on the tiny Stable Diffusion folder, recording every caption the text model gets."""
    captions: list[str] = []
    encode_text = StableDiffusionBackbone.encode_text

    def recording(self: StableDiffusionBackbone, texts: list[str] | None):
        captions.extend(texts or [])
        return encode_text(self, texts)

    out = tmp_path_factory.mktemp("sd_run") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StableDiffusionBackbone, "encode_text", recording)
        assert main(warmup_args(rooms32, tiny_sd_path, out, 3)) == 0
    return SimpleNamespace(out=out, captions=captions)


def _captions(root: Path, split: str) -> set[str]:
    return {path.read_text().strip() for path in (root / split / "caption").glob("*.txt")}


def test_warmup_conditions_the_text_model_on_the_captions(sd_run: SimpleNamespace, rooms32: Path) -> None:
    train = _captions(rooms32, "train")
    assert len(train) > 1 and all(train)
    used = set(sd_run.captions)
    assert used & train, "the training captions never reached the text encoder"
    assert _captions(rooms32, "test") <= used, "evaluation ran without the test captions"


def test_warmup_writes_a_run_folder(sd_run: SimpleNamespace) -> None:
    info = json.loads((sd_run.out / "checkpoint" / "perception.json").read_text())
    assert info["step"] == 3 and sorted(info["tasks"]) == ["depth", "edge", "normal", "saliency", "semseg"]
    assert info["backbone"]["sample_size"] == 32
    rows = (sd_run.out / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3"]
    assert (sd_run.out / "config.yaml").is_file()


def test_evaluate_writes_every_metric_of_every_task(sd_run: SimpleNamespace, rooms32: Path,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--checkpoint", str(sd_run.out / "checkpoint"), "--data", str(rooms32),
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["split"] == "test"
    metrics = result["metrics"]["theta_e"]
    assert {task: set(values) for task, values in metrics.items()} == METRIC_KEYS
    assert all(np.isfinite(v) for values in metrics.values() for v in values.values())
    assert 0 <= metrics["semseg"]["pixel_acc"] <= 1 and 0 <= metrics["normal"]["mean"] <= 180


def test_predict_writes_labels_and_pictures_at_each_image_size(sd_run: SimpleNamespace, rooms32: Path,
                                                               tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(sorted((rooms32 / "test" / "image").glob("*.png"))[0], images / "room.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(images / "wide.png")
    Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(images / "grey.png")
    out = tmp_path / "predictions"
    assert main(["predict", "--checkpoint", str(sd_run.out / "checkpoint"), "--input", str(images),
                 "--out", str(out)]) == 0
    num_classes = len(json.loads((rooms32 / "meta.json").read_text())["classes"])
    for name, size in {"room": (32, 32), "wide": (40, 48), "grey": (20, 20)}.items():
        normal = np.asarray(Image.open(out / "normal" / f"{name}.png"))
        depth = np.asarray(Image.open(out / "depth" / f"{name}.png"))
        semseg = np.asarray(Image.open(out / "semseg" / f"{name}.png"))
        assert normal.shape == (*size, 3) and depth.shape == size and semseg.shape == size
        unit, valid = decode_normal(normal)
        assert valid.all() and np.allclose(np.linalg.norm(unit, axis=-1), 1, atol=0.02)
        assert semseg.max() < num_classes
        for task in ("normal", "depth", "semseg"):
            assert np.asarray(Image.open(out / "pictures" / f"{name}_{task}.png")).shape == (*size, 3)
