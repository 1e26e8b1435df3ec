"""Checks of `diff2in1 run` folders for bench/gpu_check.sh: finite losses and metrics, loadable checkpoints.

    python bench/gpu_check_run.py RUN... [--device cuda] [--out FILE.json]

For each run folder: which stages finished, every loss column of the stages' log.csv finite, every number in
metrics.json finite, the headline metrics, seconds per step; with --device, each checkpoint (warm-up, improve
θE and θC, control) opens on that device in float32 and with a half-precision backbone and predicts finite
labels. Prints one JSON line per run; --out also writes them with the command, commit and machine. Exits 1
when a check fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from diff2in1.fileio import write_json
from speed_harness import device_name, git_commit

NOT_LOSSES = {"step", "lr", "seconds", "loss_scale", "grad_norm"}
STAGES = ("warmup", "improve", "control")


def read_log(log: Path) -> list[dict[str, str]]:
    with log.open() as handle:
        return list(csv.DictReader(handle))


def bad_losses(rows: list[dict[str, str]]) -> list[str]:
    """``column@step`` of every non-finite loss in a stage's log.csv rows."""
    return [f"{key}@{row['step']}" for row in rows for key, value in row.items()
            if key not in NOT_LOSSES and value not in ("", None) and not math.isfinite(float(value))]


def bad_numbers(value: Any, path: str = "") -> list[str]:
    """Paths of the non-finite numbers in a JSON value."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in bad_numbers(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in bad_numbers(item, f"{path}/{index}")]
    return [path] if isinstance(value, float) and not math.isfinite(value) else []


def stage_summary(run: Path, stage: str, failures: list[str]) -> dict[str, Any]:
    """A stage's steps, seconds per step, first and last losses and loss scale; its failures appended."""
    rows = read_log(run / stage / "log.csv")
    if not rows:
        failures.append(f"{stage}: no steps logged")
        return {"steps": 0}
    failures += [f"{stage} loss {p}" for p in bad_losses(rows)]
    first, last = rows[0], rows[-1]
    summary = {"steps": int(last["step"]), "finished": (run / stage / "metrics.json").is_file(),
               "s_per_step": float(last["seconds"]) / int(last["step"]),
               "total_loss_first_last": [float(first["total"]), float(last["total"])]}
    if "loss_scale" in last:
        summary["loss_scale_first_last"] = [float(first["loss_scale"]), float(last["loss_scale"])]
    return summary


def prediction_check(folder: Path, which: str, device: str, dtype: torch.dtype | None) -> str:
    """'' when the checkpoint opens and predicts finite labels, else what went wrong."""
    from diff2in1.perception.pipeline import Diff2in1Pipeline

    pipe = Diff2in1Pipeline.from_pretrained(folder, which=which, device=device, dtype=dtype)
    side = pipe.backbone.sample_size
    images = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(0))
    captions = ["a room"] * 2 if pipe.backbone.takes_text else None
    output = pipe(images, captions=captions, ensemble=2, output_type="pt")
    bad = [task for task in pipe.tasks if getattr(output, task).is_floating_point()
           and not torch.isfinite(getattr(output, task)).all()]
    return f"non-finite {bad}" if bad else ""


def checkpoint_failures(run: Path, device: str) -> list[str]:
    half = torch.float16 if device.startswith("cuda") else torch.bfloat16
    failures = []
    for stage, which in [("warmup", "theta_e"), ("improve", "theta_e"), ("improve", "theta_c"), ("control", "theta_e")]:
        for dtype in (None, half):
            name = f"{stage}/{which}/{'fp32' if dtype is None else str(dtype).split('.')[-1]}"
            try:
                problem = prediction_check(run / stage / "checkpoint", which, device, dtype)
            except Exception as error:  # noqa: BLE001 (every failure is recorded, the others still run)
                problem = f"{type(error).__name__}: {error}"
            if problem:
                failures.append(f"checkpoint {name}: {problem}")
    return failures


def check(run: Path, device: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"run": run.name, "config": (run / "config.yaml").read_text(), "failures": []}
    failures = result["failures"]
    result["stages"] = {stage: stage_summary(run, stage, failures) for stage in STAGES
                        if (run / stage / "log.csv").is_file()}
    if (run / "metrics.json").is_file():
        metrics = json.loads((run / "metrics.json").read_text())
        failures += [f"metrics.json{p} not finite" for p in bad_numbers(metrics)]
        result["metrics"] = {name: {task: dict(list(values.items())[:1]) for task, values in metrics[name].items()}
                             for name in ("warmup", "control", "diff2in1") if name in metrics}
    else:
        failures.append("no metrics.json")
    if device:
        failures += checkpoint_failures(run, device)
    result["passed"] = not failures
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of `diff2in1 run`")
    parser.add_argument("--device", default="", help="also open each checkpoint on this device and predict")
    parser.add_argument("--out", default="", help="JSON file of the results with command, commit and machine")
    parser.add_argument("--runs-made-by", default="", help="with --out: the command, commit and machine that made "
                        "the run folders, when they came from another machine")
    args = parser.parse_args(argv)
    results = [check(run, args.device or None) for run in args.runs]
    for result in results:
        print(json.dumps({k: v for k, v in result.items() if k != "config"}))
    if args.out:
        where = torch.device(args.device) if args.device else torch.device("cpu")
        write_json(Path(args.out), {
            "command": shlex.join(["python", *sys.argv]), "git_commit": git_commit(), "machine": device_name(where),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **({"runs_made_by": args.runs_made_by} if args.runs_made_by else {}), "runs": results})
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
