"""`diff2in1 data rooms`: write a rooms data set in the project layout."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ...config import config_to_dict, option
from ...tasks import DEPTH, EDGE, NORMAL, SALIENCY, SEMSEG
from ..layout import list_ids, read_meta, sample_path, write_meta, write_sample
from .captions import caption_scene
from .labels import boundaries, saliency
from .render import intrinsics, render_scene
from .scene import CLASSES, sample_scene


@dataclass
class RoomsConfig:
    out: str = option("data/rooms", "output folder (created; existing samples are kept and skipped)")
    num: int = option(1000, "number of images, split into train and test")
    size: int = option(64, "image side in pixels")
    seed: int = option(0, "random seed; the same seed gives the same images")
    test_fraction: float = option(0.2, "fraction of the images that go to the test split")
    fov: float = option(60.0, "horizontal and vertical field of view in degrees")
    workers: int = option(1, "processes rendering in parallel")


def sample_id(index: int) -> str:
    return f"{index:06d}"


def split_of(index: int, config: RoomsConfig) -> str:
    """The last test_fraction of the indices is the test split.

    Growing --num therefore moves the samples at the old end into train; `generate_rooms` moves their files,
    so a grown folder equals one generated at the new --num from scratch.
    """
    num_test = int(round(config.num * config.test_fraction))
    return "test" if index >= config.num - num_test else "train"


def render_index(index: int, config: RoomsConfig) -> dict:
    """Render image ``index``; its random stream depends only on (seed, index)."""
    rng = np.random.default_rng([config.seed, index, zlib.crc32(b"rooms")])
    scene = sample_scene(rng)
    out = render_scene(scene, config.size, config.fov)
    out["caption"] = caption_scene(scene, out["visible"], config.size * config.size)
    out["edge"] = boundaries(out["semseg"], out["owner"], out["depth"], out["normal"])
    out["saliency"] = saliency(out["owner"])
    return out


def _write_one(job: tuple[int, RoomsConfig]) -> None:
    index, config = job
    out = render_index(index, config)
    write_sample(config.out, split_of(index, config), sample_id(index), out["image"], depth=out["depth"],
                 normal=out["normal"], semseg=out["semseg"], caption=out["caption"], edge=out["edge"],
                 saliency=out["saliency"])


# Rooms have no people, so no human parts.
ROOMS_TASKS = (NORMAL, DEPTH, SEMSEG, EDGE, SALIENCY)


def rooms_meta(config: RoomsConfig) -> dict:
    return {
        "name": "rooms",
        "tasks": list(ROOMS_TASKS),
        "classes": CLASSES,
        "image_size": [config.size, config.size],
        "depth_range": [0.05, 12.0],
        "intrinsics": intrinsics(config.size, config.fov),
        "normal_convention": "camera space: x right, y down, z forward; normals face the camera",
        "synthetic": False,
        "generator": config_to_dict(config),
    }


# Every file of a sample; one missing (an interrupted run) means the sample is rendered again.
SAMPLE_MODALITIES = ("image", "depth", "normal", "semseg", "edge", "saliency", "caption")
# Generator options that change the pixels: a folder cannot mix samples rendered with different values.
RENDER_OPTIONS = ("seed", "size", "fov")


def _check_existing(root: Path, config: RoomsConfig) -> None:
    """Refuse to add samples to a folder holding another data set or rooms rendered with other options."""
    if not (root / "meta.json").is_file():
        return
    meta = read_meta(root)
    if meta.get("name") != "rooms":
        raise ValueError(f"{root / 'meta.json'}: the folder holds the data set '{meta.get('name')}', not rooms; "
                         "choose another --out")
    old = meta.get("generator", {})
    for key in RENDER_OPTIONS:
        if key in old and old[key] != getattr(config, key):
            raise ValueError(f"{root / 'meta.json'}: the folder holds rooms rendered with {key}={old[key]}, "
                             f"not {getattr(config, key)}; use --{key} {old[key]} to add to it, or another --out")


def _complete_samples(root: Path) -> dict[str, str]:
    """{sample id: split} of the samples whose files are all written."""
    done = {}
    for split in ("train", "test"):
        if (root / split / "image").is_dir():
            for name in list_ids(root, split):
                if all(sample_path(root, split, m, name).is_file() for m in SAMPLE_MODALITIES):
                    done[name] = split
    return done


def _move_sample(root: Path, sample: str, old: str, new: str) -> None:
    for modality in SAMPLE_MODALITIES:
        target = sample_path(root, new, modality, sample)
        target.parent.mkdir(parents=True, exist_ok=True)
        sample_path(root, old, modality, sample).replace(target)


def generate_rooms(config: RoomsConfig, progress: bool = True) -> Path:
    """Render ``config.num`` rooms into ``config.out``; complete samples already there are kept (resumable).

    Kept samples are moved to the split `split_of` gives them under the new ``num`` and ``test_fraction``.
    """
    if config.num < 1 or config.size < 8 or not 0 <= config.test_fraction < 1:
        raise ValueError(f"rooms: need num >= 1, size >= 8 and 0 <= test_fraction < 1, got {config}")
    root = Path(config.out)
    _check_existing(root, config)
    write_meta(root, rooms_meta(config))
    done = _complete_samples(root)
    for i in range(config.num):
        if sample_id(i) in done and done[sample_id(i)] != split_of(i, config):
            _move_sample(root, sample_id(i), done[sample_id(i)], split_of(i, config))
    todo = [(i, config) for i in range(config.num) if sample_id(i) not in done]
    bar = tqdm(total=len(todo), desc="rooms", unit="img", disable=not progress)
    if config.workers > 1:
        with Pool(config.workers) as pool:
            for _ in pool.imap_unordered(_write_one, todo, chunksize=16):
                bar.update()
    else:
        for job in todo:
            _write_one(job)
            bar.update()
    bar.close()
    return root
