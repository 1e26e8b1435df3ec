"""`diff2in1 warmup`: train the perception heads on labelled data (stage 1)."""

from __future__ import annotations

import argparse

from ..config import add_dataclass_arguments, config_from_args
from ..tasks import check_tasks
from ..training.configs import WarmupConfig
from .announce import announce


def _run(args: argparse.Namespace) -> int:
    from ..training.warmup import train_warmup

    config = config_from_args(WarmupConfig, args)
    if config.tasks:  # fail before the backbone loads, naming where the tasks came from
        check_tasks(config.tasks, where="--tasks" if args.tasks else f"{args._config}: tasks")
    out = train_warmup(config)
    announce(f"warm-up done: checkpoint {out / 'checkpoint'}, metrics {out / 'metrics.json'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("warmup", help="train aggregator + heads on labelled data, backbone frozen")
    add_dataclass_arguments(parser, WarmupConfig)
    parser.set_defaults(func=_run)
