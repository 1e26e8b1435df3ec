"""Measure what the warm-up buys on rooms 64x64: metrics of the untrained head vs. after N steps.

Generates rooms (300 images, seed 11: 200 train / 100 test), runs `diff2in1 warmup` with ``--steps 0``
(the freshly initialised head, the same initialisation the trained run starts from) and with ``--steps N``
on the embedded backbone, evaluates both checkpoints with `diff2in1 evaluate`, and writes the metrics and
wall times as JSON next to this script.

    nice -n 10 .venv/bin/python docs/perception/measure_warmup.py --work /tmp/perception-measure
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from diff2in1.cli.main import main

HERE = Path(__file__).resolve().parent


def run(argv: list[str]) -> float:
    """Run a diff2in1 command in-process; returns its wall time in seconds."""
    start = time.perf_counter()
    code = main(argv)
    if code != 0:
        raise SystemExit(f"diff2in1 {' '.join(argv)} failed with exit code {code}")
    return round(time.perf_counter() - start, 1)


def warmup_and_evaluate(work: Path, data: Path, steps: int, args: argparse.Namespace) -> dict:
    out = work / f"warmup-{steps}"
    seconds = run(["warmup", "--data", str(data), "--backbone", "embedded", "--steps", str(steps),
                   "--batch-size", str(args.batch_size), "--channels", str(args.channels),
                   "--checkpoint-every", str(max(steps, 1)), "--progress", "false", "--out", str(out)])
    eval_seconds = run(["evaluate", "--checkpoint", str(out / "checkpoint"), "--data", str(data),
                        "--out", str(out / "evaluate.json")])
    metrics = json.loads((out / "evaluate.json").read_text())["metrics"]["model"]
    log = list(csv.DictReader(open(out / "log.csv"))) if (out / "log.csv").is_file() else []
    clock = [float(row["seconds"]) for row in log]
    durations = sorted(b - a for a, b in zip([0.0, *clock], clock))  # a loaded machine shows in the spread
    loop_seconds = clock[-1] if clock else 0.0
    return {"steps": steps, "warmup_wall_s": seconds, "train_loop_s": loop_seconds,
            "s_per_step": round(loop_seconds / steps, 3) if steps else None,
            "s_per_step_median": round(statistics.median(durations), 3) if durations else None,
            "s_per_step_p10": round(durations[len(durations) // 10], 3) if durations else None,
            "final_loss": float(log[-1]["total"]) if log else None,
            "evaluate_wall_s": eval_seconds, "metrics": metrics}


def main_measure() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/perception-measure", help="folder for the data and runs")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--result", default=str(HERE / "warmup_rooms64.json"))
    args = parser.parse_args()
    work = Path(args.work)
    data = work / "rooms64"
    run(["data", "rooms", "--out", str(data), "--num", "300", "--test-fraction", "0.3333", "--seed", "11",
         "--size", "64"])
    before = warmup_and_evaluate(work, data, 0, args)
    after = warmup_and_evaluate(work, data, args.steps, args)
    result = {
        "data": "rooms 64x64, --num 300 --test-fraction 0.3333 --seed 11 (200 train, 100 test)",
        "backbone": "embedded",
        "batch_size": args.batch_size, "channels": args.channels,
        "machine": {"cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "cuda": torch.cuda.is_available(), "python": platform.python_version(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "before": before, "after": after,
    }
    Path(args.result).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("before", "after")}, indent=2))


if __name__ == "__main__":
    main_measure()
