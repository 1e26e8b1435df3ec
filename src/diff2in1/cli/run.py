"""`diff2in1 run CONFIG` and `diff2in1 demo`: the whole Diff-2-in-1 pipeline in one run folder."""

from __future__ import annotations

import argparse
import os
import time
from importlib import resources
from pathlib import Path

from .announce import announce


def _run(args: argparse.Namespace) -> int:
    from ..workflow.run import load_run_config, run_pipeline

    start = time.time()
    run = run_pipeline(load_run_config(args.config, out=args.out))
    announce(f"run finished in {time.time() - start:.0f} s: {run}/metrics.json, report {run}/report/index.html")
    return 0


def demo_config_path() -> Path:
    return Path(str(resources.files("diff2in1") / "configs" / "demo.yaml"))


def _demo(args: argparse.Namespace) -> int:
    args.config = demo_config_path()
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        # The demo's 64x64 heads and UNet are too small to gain from intra-op threads: on a busy 2-core machine
        # a warm-up step took 4-6 s with two threads against 0.08 s with one. OMP_NUM_THREADS, when set, wins.
        torch.set_num_threads(1)
    return _run(args)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="warm-up → create → improve → evaluate → report from a YAML config")
    parser.add_argument("config", help="run YAML (see configs/ in the package, e.g. demo.yaml)")
    parser.add_argument("--out", default=None, help="run folder (overrides the config's `out`)")
    parser.set_defaults(func=_run)
    demo = subparsers.add_parser("demo", help="the embedded demo: rooms, shipped backbone, 100 labels (CPU, minutes)")
    demo.add_argument("--out", default=None, help="run folder (default runs/demo)")
    demo.set_defaults(func=_demo)
    register_report(subparsers)


def _report(args: argparse.Namespace) -> int:
    from ..report.html import report_command

    report_command(args.run, data=args.data, dataset=args.dataset)
    return 0


def register_report(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="(re)write the HTML report of a run folder")
    parser.add_argument("run", help="run folder (from diff2in1 run)")
    parser.add_argument("--data", default=None, help="real data-set root (default: from the run's config)")
    parser.add_argument("--dataset", default=None, help="data-set reader name (default: from the run's config)")
    parser.set_defaults(func=_report)
