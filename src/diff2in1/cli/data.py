"""`diff2in1 data ...`: make and inspect data sets."""

from __future__ import annotations

import argparse

from ..config import add_dataclass_arguments, config_from_args
from ..data.rooms.generate import RoomsConfig


def _rooms(args: argparse.Namespace) -> int:
    from ..data.rooms import generate_rooms
    from ..data.summary import print_summary

    root = generate_rooms(config_from_args(RoomsConfig, args))
    print_summary(root)
    return 0


def _preview(args: argparse.Namespace) -> int:
    from ..data.preview import PreviewConfig, write_preview

    path = write_preview(config_from_args(PreviewConfig, args))
    print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="make and inspect data sets")
    sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    rooms = sub.add_parser("rooms", help="render a procedural rooms data set with depth, normals, classes, captions")
    add_dataclass_arguments(rooms, RoomsConfig)
    rooms.set_defaults(func=_rooms)
    from ..data.preview import PreviewConfig

    preview = sub.add_parser("preview", help="a PNG of samples with their labels")
    add_dataclass_arguments(preview, PreviewConfig)
    preview.set_defaults(func=_preview)
