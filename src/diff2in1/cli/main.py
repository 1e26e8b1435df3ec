"""Entry point of the ``diff2in1`` console script."""

from __future__ import annotations

import argparse
import importlib
import sys

# Sub-command modules under diff2in1.cli; each defines register(subparsers). Heavy imports (torch,
# diffusers) happen inside the commands, so `diff2in1 --help` stays fast.
COMMAND_MODULES = ("data", "caption", "pretrain", "warmup", "evaluate", "predict", "create", "improve", "run", "quality",
                   "export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diff2in1",
        description="Diff-2-in-1: dense perception and multi-modal data creation with one diffusion model.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"diff2in1.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        # Errors raised for bad input already name the file and the fix; a traceback adds nothing.
        print(f"diff2in1 {args.command}: error: {err}", file=sys.stderr)
        return 1
    finally:
        leave_process_group()
    return int(result or 0)


def leave_process_group() -> None:
    """Destroy the process group ``accelerate launch`` made, if a command joined one.

    A process that exits with a gloo group alive aborts now and then ("terminate called without an active
    exception"): gloo's worker threads still hold work when the interpreter tears down.
    """
    if "torch.distributed" not in sys.modules:  # no command imported it, so none joined a group
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
