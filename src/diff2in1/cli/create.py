"""`diff2in1 create`: multi-modal data creation from the labelled training images (paper, section 2)."""

from __future__ import annotations

import argparse

from ..config import add_dataclass_arguments, config_from_args
from ..creation.config import CreateConfig
from .announce import announce


def _run(args: argparse.Namespace) -> int:
    from ..creation.create import create_dataset

    out = create_dataset(config_from_args(CreateConfig, args))
    announce(f"creation done: {out} (meta.json, train/)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "create", help="create synthetic images and their labels from real training images (one DDIM pass each)"
    )
    add_dataclass_arguments(parser, CreateConfig)
    parser.set_defaults(func=_run)
