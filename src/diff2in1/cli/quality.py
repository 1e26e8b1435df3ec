"""`diff2in1 quality ...`: judge generated images with a small network trained on the domain (no download)."""

from __future__ import annotations

import argparse
import json

from ..config import add_dataclass_arguments, config_from_args
from ..quality.configs import FdConfig, JudgeConfig


def _fd(args: argparse.Namespace) -> int:
    from ..quality.fd import run_fd

    report = run_fd(config_from_args(FdConfig, args))
    summary = {k: report[k] for k in ("frechet", "hist_l1", "class_hist_generated", "class_hist_real",
                                      "num_generated", "num_real", "sampling_seconds")}
    print(json.dumps(summary, indent=2))
    return 0


def _train_judge(args: argparse.Namespace) -> int:
    from ..quality.judge import train_judge

    print(f"saved the judge to {train_judge(config_from_args(JudgeConfig, args))}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    quality = subparsers.add_parser("quality", help="score generated images with the rooms judge (Fréchet distance, "
                                    "class histograms)")
    sub = quality.add_subparsers(dest="quality_command", metavar="QUALITY_COMMAND", required=True)
    fd = sub.add_parser("fd", help="Fréchet distance of judge features between samples of a model and real images")
    add_dataclass_arguments(fd, FdConfig)
    fd.set_defaults(func=_fd)
    train = sub.add_parser("train-judge", help="train the judge (a small segmentation CNN) on a rooms data set")
    add_dataclass_arguments(train, JudgeConfig)
    train.set_defaults(func=_train_judge)
