"""`diff2in1 export`: a checkpoint as a self-contained pipeline folder (`Diff2in1Pipeline.save_pretrained`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..config import add_dataclass_arguments, config_from_args, option


@dataclass
class ExportConfig:
    checkpoint: str = option("runs/demo/improve/checkpoint", "checkpoint folder (perception.json + weights)")
    out: str = option("exported", "folder to write: weights, perception.json and, with --include-backbone, backbone/")
    include_backbone: bool = option(False, "copy the backbone's files into OUT/backbone/ (else OUT names its "
                                    "location and fingerprint)")
    backbone: str = option("", "another copy of the same backbone to use and record (default: the stored one)")


def _run(args: argparse.Namespace) -> int:
    from ..perception.pipeline import Diff2in1Pipeline

    config = config_from_args(ExportConfig, args)
    pipe = Diff2in1Pipeline.from_pretrained(config.checkpoint, backbone=config.backbone or None)
    out = pipe.save_pretrained(config.out, include_backbone=config.include_backbone)
    print(f"wrote {out} (backbone {'copied to backbone/' if config.include_backbone else pipe.backbone_source})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="write a checkpoint as a portable pipeline folder "
                                   "(optionally with a copy of the backbone)")
    add_dataclass_arguments(parser, ExportConfig)
    parser.set_defaults(func=_run)
