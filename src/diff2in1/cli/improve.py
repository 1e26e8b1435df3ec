"""`diff2in1 improve`: the self-improving stage (θE trained on real + synthetic, θC = EMA of θE labels)."""

from __future__ import annotations

import argparse

from ..config import add_dataclass_arguments, config_from_args
from ..self_improving.config import ImproveConfig
from .announce import announce


def _run(args: argparse.Namespace) -> int:
    from ..self_improving.improve import train_improve

    out = train_improve(config_from_args(ImproveConfig, args))
    announce(f"improve done: checkpoint {out / 'checkpoint'} (θE and θC: theta_e, theta_c), metrics {out / 'metrics.json'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("improve", help="self-improving stage: θE on real + synthetic, θC = EMA labels")
    add_dataclass_arguments(parser, ImproveConfig)
    parser.set_defaults(func=_run)
