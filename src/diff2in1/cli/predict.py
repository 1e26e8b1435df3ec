"""`diff2in1 predict`: label files and coloured pictures for a folder of images."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..config import add_dataclass_arguments, config_from_args, option
from .announce import announce


@dataclass
class PredictConfig:
    checkpoint: str = option("runs/warmup/checkpoint", "perception checkpoint folder")
    input: str = option("images", "folder of images (or a data set in the project layout: its test split)")
    out: str = option("predictions", "output folder: <task>/<id>.png label files, pictures/<id>_<task>.png")
    which: str = option("theta_e", "head to use: theta_e (θE) or theta_c (θC); model and creation are their "
                        "older names", choices=["theta_e", "theta_c", "model", "creation"])
    ensemble: int = option(1, "2 = average each prediction with the one on the mirrored image", choices=[1, 2])


def _run(args: argparse.Namespace) -> int:
    from ..report.predictions import write_predictions

    config = config_from_args(PredictConfig, args)
    count = write_predictions(config)
    announce(f"wrote predictions for {count} images to {config.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="predict labels for a folder of images, as files and pictures")
    add_dataclass_arguments(parser, PredictConfig)
    parser.set_defaults(func=_run)
