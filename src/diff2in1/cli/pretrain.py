"""`diff2in1 pretrain`: train a pixel-space diffusion backbone on a folder of images."""

from __future__ import annotations

import argparse

from ..config import add_dataclass_arguments, config_from_args
from ..training.configs import PretrainConfig
from .announce import announce


def _run(args: argparse.Namespace) -> int:
    from ..training.pretrain import pretrain

    announce(f"exported {pretrain(config_from_args(PretrainConfig, args))}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pretrain", help="train a diffusion UNet (DDPM loss, EMA) on unlabelled images")
    add_dataclass_arguments(parser, PretrainConfig)
    parser.set_defaults(func=_run)
