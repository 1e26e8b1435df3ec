"""`Diff2in1Pipeline` on a real photo (the portrait matplotlib ships): every task comes back at each photo's own
size, with values in the ranges `Diff2in1Output` documents, for two non-square photos of different sizes."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.cbook
import numpy as np
import pytest
from perception_helpers import warmup_args
from PIL import Image

from diff2in1 import Diff2in1Pipeline
from diff2in1.cli.main import main
from diff2in1.tasks import HUMAN_PART_CLASSES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data_readers"))
from readers_fakes import make_pascal_mt  # noqa: E402

PORTRAIT, LANDSCAPE = (451, 300), (260, 400)  # (height, width) of the two photos
ROOMS_TASKS = {"normal", "depth", "semseg", "edge", "saliency"}
PASCAL_TASKS = {"normal", "semseg", "edge", "saliency", "human_parts"}


@pytest.fixture(scope="module")
def photos() -> list:
    """Grace Hopper (a 512x600 JPEG): a tall crop as a PIL image and a wide crop as an HxWx3 uint8 array."""
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as file:
        hopper = Image.open(file).convert("RGB")
        hopper.load()
    assert hopper.size == (512, 600)
    tall = hopper.crop((60, 0, 452, 590)).resize(PORTRAIT[::-1], Image.BILINEAR)
    wide = np.asarray(hopper.crop((0, 120, 512, 453)).resize(LANDSCAPE[::-1], Image.BILINEAR))
    assert tall.size == (300, 451) and wide.shape == (260, 400, 3) and wide.dtype == np.uint8
    return [tall, wide]


@pytest.fixture(scope="module")
def pascal_checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_pixel_path: Path) -> Path:
    """A 2-step warm-up on a tiny fake of PASCAL-Context: the only tests' data with human parts."""
    root = make_pascal_mt(tmp_path_factory.mktemp("pascal_fake") / "pascal")
    out = tmp_path_factory.mktemp("pascal_run") / "run"
    assert main(warmup_args(root, tiny_pixel_path, out, 2, "--dataset", "pascal_context")) == 0
    return out / "checkpoint"


@pytest.fixture(params=["rooms", "pascal"])
def checkpoint(request: pytest.FixtureRequest) -> tuple[Path, set[str]]:
    """(checkpoint folder, its tasks): rooms (normal, depth, semseg, edge, saliency) and PASCAL-Context
    (normal, semseg, edge, saliency, human_parts): every task between them."""
    if request.param == "rooms":
        return request.getfixturevalue("pixel_checkpoint"), ROOMS_TASKS
    return request.getfixturevalue("pascal_checkpoint"), PASCAL_TASKS


def check_photo(out, index: int, size: tuple[int, int], tasks: set[str], num_classes: int) -> None:
    """Photo ``index`` of a batch: each task at ``size`` (HxW), finite, in its documented range."""
    height, width = size
    if "normal" in tasks:
        normal = out.normal[index]
        assert normal.shape == (height, width, 3) and normal.dtype == np.float32
        assert np.isfinite(normal).all()
        assert np.allclose(np.linalg.norm(normal, axis=-1), 1, atol=1e-4), "normals are unit vectors"
    if "depth" in tasks:
        depth = out.depth[index]
        assert depth.shape == size and depth.dtype == np.float32
        assert np.isfinite(depth).all() and (depth > 0).all(), "depth is positive metres"
    for task, classes in (("semseg", num_classes), ("human_parts", len(HUMAN_PART_CLASSES))):
        if task in tasks:
            labels = getattr(out, task)[index]
            assert labels.shape == size and labels.dtype == np.int64, task
            assert labels.min() >= 0 and labels.max() < classes, task
    for task in ("edge", "saliency"):
        if task in tasks:
            prob = getattr(out, task)[index]
            assert prob.shape == size and prob.dtype == np.float32, task
            assert np.isfinite(prob).all() and prob.min() >= 0 and prob.max() <= 1, task
    assert set(out.confidence) == tasks - {"depth"}  # depth has no confidence
    for task, confidence in out.confidence.items():
        value = confidence[index]
        assert value.shape == size and np.isfinite(value).all(), task
        if task == "normal":
            assert (value >= 0).all(), "kappa >= 0"
        elif task in ("edge", "saliency"):
            assert value.min() >= 0.5 and value.max() <= 1, task
        else:
            assert value.min() > 0 and value.max() <= 1, task


@pytest.mark.parametrize("ensemble", [1, 2])
def test_every_task_comes_back_at_each_real_photos_own_size(checkpoint, photos, ensemble):
    folder, tasks = checkpoint
    pipe = Diff2in1Pipeline.from_pretrained(folder)
    assert set(pipe.tasks) == tasks
    out = pipe(photos, ensemble=ensemble)
    absent = {"normal", "depth", "semseg", "edge", "saliency", "human_parts"} - tasks
    assert all(getattr(out, task) is None for task in absent), "no head, no prediction"
    for task in tasks:
        values = getattr(out, task)
        assert isinstance(values, list) and len(values) == 2, f"{task}: one array per photo (sizes differ)"
    num_classes = len(pipe.classes)
    assert num_classes > 1 if "semseg" in tasks else True
    check_photo(out, 0, PORTRAIT, tasks, num_classes)
    check_photo(out, 1, LANDSCAPE, tasks, num_classes)
