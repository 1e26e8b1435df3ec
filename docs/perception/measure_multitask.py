"""Does adding boundaries and saliency cost the other tasks? Rooms warm-ups with 5 tasks against 3.

    OMP_NUM_THREADS=1 python docs/perception/measure_multitask.py [--steps 300] [--seeds 0] [--labelled 150]

Arms, all with equal settings on the shipped embedded backbone (rooms64), the same labelled images, steps,
batch, learning rate and seed: ``3 tasks`` (normal, depth, semseg; fixed weights), ``5 tasks fixed`` (adds
edge and saliency with the multi-task works' weights 50 and 5) and ``5 tasks uncertainty`` (Kendall et
al.'s learned weights). Each warm-up holds out a third of its labelled images for validation; the 5-task
weighting is chosen on validation (the mean rank over the headline metrics of all five tasks), and only
then read on the test split. Writes docs/perception/multitask.json (command, git commit, machine, every
score) and prints the Markdown table that docs/perception/multitask.md carries.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from diff2in1.data.rooms import RoomsConfig, generate_rooms
from diff2in1.fileio import read_json, write_json
from diff2in1.perception.checkpoint import load_perception
from diff2in1.perception.evaluation import evaluate
from diff2in1.perception.splits import open_backbone, open_split
from diff2in1.tasks import TASK_SPECS
from diff2in1.training.warmup import WarmupConfig, train_warmup

OUT = Path(__file__).resolve().parent
THREE = ["normal", "depth", "semseg"]
FIVE = ["normal", "depth", "semseg", "edge", "saliency"]
ARMS = {"3 tasks": (THREE, "fixed"), "5 tasks fixed": (FIVE, "fixed"), "5 tasks uncertainty": (FIVE, "uncertainty")}


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=OUT).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_arm(work: Path, rooms: Path, name: str, seed: int, args: argparse.Namespace) -> dict:
    """Warm up one arm (resumable: a finished run is reused) and score it on validation and test."""
    tasks, weighting = ARMS[name]
    out = work / f"{name.replace(' ', '_')}_s{seed}"
    config = WarmupConfig(data=str(rooms), dataset="rooms", tasks=tasks, backbone="embedded", out=str(out),
                          num_labelled=args.labelled, val_fraction=1 / 3, eval_split="val", steps=args.steps,
                          batch_size=8, channels=64, seed=seed, loss_weighting=weighting,
                          cache_dir=str(work / "features"), progress=False, checkpoint_every=10**9)
    start = time.time()
    if not (out / "metrics.json").is_file():
        train_warmup(replace(config, resume=(out / "train_state").exists()))
    val = read_json(out / "metrics.json")["metrics"]
    backbone = open_backbone("embedded")
    model, _ = load_perception(out / "checkpoint")
    test_set = open_split("rooms", str(rooms), "test", tasks, backbone.sample_size)
    test = evaluate(backbone, {"model": model.eval()}, test_set, progress=False)["model"]
    return {"val": val, "test": test, "weights": model.weighting.current(), "seconds": round(time.time() - start)}


def headline(scores: dict, task: str) -> float:
    return scores[task][TASK_SPECS[task].headline[0]]


def choose_weighting(per_seed: dict) -> str:
    """The 5-task arm with the better mean rank over the five headline metrics on validation."""
    names = ("5 tasks fixed", "5 tasks uncertainty")
    ranks = dict.fromkeys(names, 0.0)
    for arms in per_seed.values():
        for task in FIVE:
            higher = TASK_SPECS[task].headline[1]
            order = sorted(names, key=lambda n: headline(arms[n]["val"], task), reverse=higher)
            for rank, n in enumerate(order):
                ranks[n] += rank
    return min(names, key=lambda n: ranks[n])


def table(per_seed: dict, chosen: str) -> list[str]:
    lines = ["| split | metric | 3 tasks | 5 tasks fixed | 5 tasks uncertainty |", "|---|---|---|---|---|"]
    for split in ("val", "test"):
        for task in FIVE:
            for metric in ([TASK_SPECS[task].headline[0]] + (["a11.25"] if task == "normal" else [])
                           + (["d1"] if task == "depth" else [])):
                cells = []
                for name in ARMS:
                    values = [arms[name][split].get(task, {}).get(metric) for arms in per_seed.values()]
                    values = [v for v in values if v is not None]
                    cells.append(f"{sum(values) / len(values):.4f}" if values else "—")
                lines.append(f"| {split} | {task}.{metric} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Weighting chosen on validation: **{chosen}**.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--labelled", type=int, default=150, help="labelled images, a third held out for validation")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rooms", type=int, default=400, help="rooms rendered (a quarter is the test split)")
    parser.add_argument("--work", default=str(Path.home() / ".cache" / "diff2in1" / "measure_multitask"))
    args = parser.parse_args(argv)
    command = "python docs/perception/measure_multitask.py " + " ".join(argv if argv is not None else sys.argv[1:])
    commit, work = git_commit(), Path(args.work)
    rooms = generate_rooms(RoomsConfig(out=str(work / "rooms"), num=args.rooms, size=64, seed=11,
                                       test_fraction=0.25), progress=False)
    per_seed = {seed: {name: run_arm(work, rooms, name, seed, args) for name in ARMS} for seed in args.seeds}
    chosen = choose_weighting(per_seed)
    write_json(OUT / "multitask.json", {"command": command, "git_commit": commit,
                                        "machine": f"{platform.node()} {platform.machine()}", "steps": args.steps,
                                        "labelled": args.labelled, "seeds": args.seeds, "chosen_on_val": chosen,
                                        "per_seed": {str(k): v for k, v in per_seed.items()}})
    print("\n".join(table(per_seed, chosen)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
