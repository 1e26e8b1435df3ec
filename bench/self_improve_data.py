"""The benchmark's images: the labelled world, the unlabelled pool, and the labelled images as a folder.

On rooms generated in the work folder (the default) the pool is 500 other rooms (another generator seed),
shared by all seeds, and has labels for the oracle. On a user's data set (--dataset/--data) the pool is
the training images outside the labelled subset and outside the validation split (``diff2in1 improve
--unlabelled split``'s rule), written as a folder of images for the arms that label or create from it; the
oracle reads the same images with their labels through ``split``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from self_improve_arms import POOL_SIZE


def make_rooms(work: Path, rooms: dict) -> tuple[str, str]:
    """The labelled world (the demo's rooms) and the unlabelled pool (other rooms, another seed)."""
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    paths = []
    for name, settings in (("rooms", rooms), ("pool", {**rooms, "num": POOL_SIZE, "seed": 1, "test_fraction": 0.0})):
        out = work / name
        if not (out / "meta.json").is_file():
            staging = work / f"{name}.tmp{os.getpid()}"
            generate_rooms(RoomsConfig(out=str(staging), **settings), progress=False)
            try:
                staging.rename(out)
            except OSError:  # another seed's process made it first: same seed, same images
                shutil.rmtree(staging, ignore_errors=True)
        paths.append(str(out))
    return paths[0], paths[1]


def write_image_folder(dataset: Dataset, folder: Path) -> str:
    """``dataset``'s images as a flat folder (FOLDER/<id>.png, FOLDER/caption/<id>.txt), written once: a
    folder that exists is complete (it is written aside and renamed)."""
    if folder.is_dir():
        return str(folder)
    staging = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "caption").mkdir(parents=True)
    for index in range(len(dataset)):
        item = dataset[index]
        image = (item["image"].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        Image.fromarray(np.ascontiguousarray(image)).save(staging / f"{item['id']}.png")
        if item.get("caption"):
            (staging / "caption" / f"{item['id']}.txt").write_text(str(item["caption"]).strip() + "\n")
    try:
        staging.rename(folder)
    except OSError:  # another seed's process wrote it first
        shutil.rmtree(staging, ignore_errors=True)
    return str(folder)


def train_images(warmup) -> Dataset:
    """The training split of a warm-up's data set, every task, at its own resolution."""
    from diff2in1.data import open_dataset

    return open_dataset(warmup.dataset, warmup.data, "train", tasks=warmup.tasks or None)


def labelled_images(warmup, folder: Path) -> str:
    """The warm-up's labelled training images (its subset, less any validation part) as a folder of images
    without labels: the ensemble teacher's targets on the labelled images alone."""
    from diff2in1.perception.splits import labelled_subsets

    train, _ = labelled_subsets(train_images(warmup), warmup.num_labelled, warmup.val_fraction, warmup.labelled_seed)
    return write_image_folder(train, folder)


def pool_photos(warmup, folder: Path) -> str:
    """The training images outside the labelled subset and outside the validation split (the rule of
    ``--unlabelled split``), as a folder of images without labels."""
    from torch.utils.data import Subset

    from diff2in1.perception.splits import labelled_subsets, unlabelled_subset

    full = train_images(warmup)
    train, val = labelled_subsets(full, warmup.num_labelled, warmup.val_fraction, warmup.labelled_seed)
    excluded = set(train.indices) | set(val.indices if val is not None else [])
    if warmup.num_labelled:
        excluded |= set(unlabelled_subset(full, warmup.num_labelled, warmup.labelled_seed).indices)
    rest = [i for i in range(len(full)) if i not in excluded]
    if not rest:
        raise ValueError(f"{warmup.data}: no training image is left outside the {warmup.num_labelled} labelled ones "
                         "and the validation split (up to 250 more) to be the unlabelled pool; use fewer labels or "
                         "a larger data set")
    return write_image_folder(Subset(full, rest), folder)
