"""``diff2in1 caption``: write ``caption/<id>.txt`` for every image of a data set with a BLIP model."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from ..config import add_dataclass_arguments, config_from_args, option
from ..data.open import DATASET_NAMES, LAYOUT_NAMES


@dataclass
class CaptionConfig:
    root: str = option("", "data set folder (project layout: the folder with meta.json)")
    dataset: str = option("folder", "data set name, as for open_dataset", choices=list(DATASET_NAMES))
    splits: list[str] = option(["train", "test"], "splits to caption; a split the data set lacks is skipped")
    model: str = option(
        "Salesforce/blip-image-captioning-base",
        "BLIP captioning model: a folder written by save_pretrained, or a hub id",
    )
    batch_size: int = option(8, "images per generate call")
    max_new_tokens: int = option(30, "longest caption, in tokens")
    prompt: str = option("", "text every caption starts with (BLIP conditional captioning), e.g. 'a photo of'")
    device: str = option("auto", "torch device: cpu, cuda, cuda:1, or auto (cuda when available)")
    overwrite: bool = option(False, "caption again the samples that already have a caption file")


def _device(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def caption_dataset(config: CaptionConfig, captioner: Callable | None = None) -> tuple[int, int]:
    """Caption every split of ``config``; ``captioner`` defaults to the BLIP model of ``config.model``.

    Returns (written, skipped) summed over the splits.
    """
    from ..data.captions import load_blip_captioner, write_captions
    from ..data.open import open_dataset

    if not config.root:
        raise ValueError("diff2in1 caption: give the data set folder, e.g. `diff2in1 caption data/rooms`")
    # Readers open images only (no label folders needed); the project layout reads its meta.json tasks.
    tasks = None if config.dataset in LAYOUT_NAMES else []
    datasets, problems, seen = [], [], set()
    for split in config.splits:
        try:
            dataset = open_dataset(config.dataset, config.root, split, tasks=tasks)
        except FileNotFoundError as err:
            problems.append(f"split '{split}': {err}")
            continue
        key = (str(dataset.root), tuple(dataset.ids))  # a flat image folder has one split for all names
        if key not in seen:
            seen.add(key)
            datasets.append(dataset)
    if not datasets:
        raise FileNotFoundError(f"{config.root}: no split could be opened; " + "; ".join(problems))
    for problem in problems:
        print(f"skipping {problem}")
    if captioner is None:
        captioner = load_blip_captioner(config.model, _device(config.device), config.max_new_tokens, config.prompt)
    written = skipped = 0
    for dataset in datasets:
        w, s = write_captions(dataset, captioner, config.batch_size, config.overwrite)
        written, skipped = written + w, skipped + s
    return written, skipped


def run(args: argparse.Namespace) -> int:
    config = config_from_args(CaptionConfig, args)
    written, skipped = caption_dataset(config)
    print(f"wrote {written} caption(s); kept {skipped} existing")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "caption",
        help="write caption/<id>.txt for a data set with a BLIP model",
        description=__doc__,
    )
    add_dataclass_arguments(parser, CaptionConfig, positional=("root",))
    parser.set_defaults(func=run)
