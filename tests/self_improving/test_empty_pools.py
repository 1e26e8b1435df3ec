"""A pool, split or folder that comes out empty is refused before training starts, saying what was asked,
how many images were found and why, and what to pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from diff2in1.self_improving.improve import ImproveConfig, train_improve
from diff2in1.training.warmup import WarmupConfig, train_warmup


@pytest.fixture(scope="module")
def warm(tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    root = tmp_path_factory.mktemp("empty_pools")
    rooms = generate_rooms(RoomsConfig(out=str(root / "rooms"), num=10, size=16), progress=False)
    run = train_warmup(WarmupConfig(backbone=str(tiny_pixel_path), data=str(rooms), out=str(root / "warmup"),
                                    tasks=["normal"], steps=1, batch_size=2, channels=8, progress=False))
    return {"root": root, "rooms": rooms, "checkpoint": run / "checkpoint", "backbone": tiny_pixel_path}


def _improve(warm: dict[str, Path], name: str, **kw) -> ImproveConfig:
    return ImproveConfig(**{"backbone": str(warm["backbone"]), "data": str(warm["rooms"]), "tasks": ["normal"],
                            "warmup": str(warm["checkpoint"]), "synthetic": "", "out": str(warm["root"] / name),
                            "steps": 1, "batch_size": 2, "pseudo_batch_size": 2, "views": 1, "progress": False, **kw})


def _train_count(warm: dict[str, Path]) -> int:
    return len(list((warm["rooms"] / "train" / "image").iterdir()))


def test_an_unlabelled_split_with_every_image_held_is_refused(warm):
    # every training image outside the 4 labelled is held as the 'unlabelled' evaluation split (up to 250)
    with pytest.raises(ValueError) as error:
        train_improve(_improve(warm, "split", unlabelled="split", num_labelled=4))
    message = str(error.value)
    assert message.startswith("--unlabelled split: 0 images")
    assert f"all {_train_count(warm)} training images are held: 4 labelled" in message
    assert "--unlabelled DIR" in message
    assert not (warm["root"] / "split" / "train_state").exists()


def test_an_empty_unlabelled_folder_and_an_empty_created_set_are_refused(warm):
    empty = warm["root"] / "nothing"
    (empty / "train" / "image").mkdir(parents=True)
    with pytest.raises((ValueError, FileNotFoundError), match=str(empty)):
        train_improve(_improve(warm, "folder", unlabelled=str(empty)))
    with pytest.raises((ValueError, FileNotFoundError), match=str(empty)):
        train_improve(_improve(warm, "created", synthetic=str(empty)))


def test_warmup_refuses_an_empty_labelled_set_and_an_empty_validation_split(warm):
    common = dict(backbone=str(warm["backbone"]), data=str(warm["rooms"]), tasks=["normal"], steps=1,
                  batch_size=2, channels=8, progress=False)
    with pytest.raises(ValueError, match=r"labelled training images: 0 images .*--val-fraction 1.0.*smaller"):
        train_warmup(WarmupConfig(**common, out=str(warm["root"] / "w1"), val_fraction=1.0))
    with pytest.raises(ValueError, match=r"--eval-split val: 0 images .*pass --val-fraction above 0"):
        train_warmup(WarmupConfig(**common, out=str(warm["root"] / "w2"), eval_split="val"))
