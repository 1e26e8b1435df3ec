"""`diff2in1 data rooms`: write a rooms data set in the project layout."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ...config import config_to_dict, option
from ...tasks import TASKS
from ..layout import list_ids, write_meta, write_sample
from .captions import caption_scene
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
    """The last test_fraction of the indices is the test split, so growing --num keeps earlier splits."""
    num_test = int(round(config.num * config.test_fraction))
    return "test" if index >= config.num - num_test else "train"


def render_index(index: int, config: RoomsConfig) -> dict:
    """Render image ``index``; its random stream depends only on (seed, index)."""
    rng = np.random.default_rng([config.seed, index, zlib.crc32(b"rooms")])
    scene = sample_scene(rng)
    out = render_scene(scene, config.size, config.fov)
    out["caption"] = caption_scene(scene, out["visible"], config.size * config.size)
    return out


def _write_one(job: tuple[int, RoomsConfig]) -> None:
    index, config = job
    out = render_index(index, config)
    write_sample(config.out, split_of(index, config), sample_id(index), out["image"], depth=out["depth"],
                 normal=out["normal"], semseg=out["semseg"], caption=out["caption"])


def rooms_meta(config: RoomsConfig) -> dict:
    return {
        "name": "rooms",
        "tasks": list(TASKS),
        "classes": CLASSES,
        "image_size": [config.size, config.size],
        "depth_range": [0.05, 12.0],
        "intrinsics": intrinsics(config.size, config.fov),
        "normal_convention": "camera space: x right, y down, z forward; normals face the camera",
        "synthetic": False,
        "generator": config_to_dict(config),
    }


def generate_rooms(config: RoomsConfig, progress: bool = True) -> Path:
    """Render ``config.num`` rooms into ``config.out``; already written images are skipped (resumable)."""
    if config.num < 1 or config.size < 8 or not 0 <= config.test_fraction < 1:
        raise ValueError(f"rooms: need num >= 1, size >= 8 and 0 <= test_fraction < 1, got {config}")
    root = Path(config.out)
    write_meta(root, rooms_meta(config))
    done = set()
    for split in ("train", "test"):
        if (root / split / "image").is_dir():
            done |= set(list_ids(root, split))
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
