"""The trainable-backbone gate: does training the diffusion UNet beat training the heads alone, at equal steps?

For each label count and seed (its own labelled subset), on the benchmark's rooms data:
  A. heads warmed up on the frozen backbone (the benchmark's warm-up: 1500 steps, cached features);
  B. from A's heads, STEPS more steps in each mode: ``none`` (heads only), ``lora`` (peft adapters at
     --lr) and ``full`` (every UNet weight at 0.01 of --lr, as VPD) - same images per step, same
     schedule, same augmentation, every mode streamed (a fresh noise draw per visit, as a trained
     UNet must be); only what trains differs.
Each B model is scored on validation (250 training images outside the labelled ones) and on test, plain
and with flip averaging. Choices are read on validation; test is reported beside it. The data gap is
the 800-label model against the 100-label one of the same mode and seed.

A gate that trains the UNet from the first step would pay a UNet forward and backward (about 1-1.5 s at
batch 8 on one core of this CPU, against 0.3 s for a cached head step) on all 1500 warm-up steps of
each of 12 trained runs; the two-stage form pays it only for STEPS. Results: bench/results/backbone_gate.json and .md (command and commit recorded); finished runs
are reused, so a stopped gate resumes. Run one process per core, e.g.:

    python bench/backbone_gate.py --labelled 100 --seeds 0 2 &
    python bench/backbone_gate.py --labelled 100 --seeds 1 &
    python bench/backbone_gate.py --collect-only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

MODES = ("none", "lora", "full")
ROOMS = {"num": 1250, "size": 64, "seed": 0, "test_fraction": 0.2}  # the self-improving benchmark's
TASKS = ["normal", "depth", "semseg"]
HEADLINE = {"normal": ("mean", "lower"), "depth": ("abs_rel", "lower"), "semseg": ("miou", "higher")}


def _commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True, cwd=Path(__file__).parent).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> str:
    import platform

    return f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, {platform.python_version()}"


def _rooms(work: Path) -> str:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    root = work / "rooms"
    if not (root / "meta.json").is_file():
        generate_rooms(RoomsConfig(out=str(root), **ROOMS))
    return str(root)


def _warmup(data: str, out: Path, labelled: int, seed: int, steps: int, mode: str = "none", init: str = "",
            lr_warmup: int = 50) -> Path:
    from diff2in1.training.configs import WarmupConfig
    from diff2in1.training.warmup import train_warmup

    if (out / "metrics.json").is_file():
        return out / "checkpoint"
    config = WarmupConfig(data=data, tasks=TASKS, out=str(out), num_labelled=labelled, labelled_seed=seed,
                          seed=seed, steps=steps, batch_size=8, channels=64, eval_split="unlabelled",
                          train_backbone=mode, init_heads=init, lr_warmup=lr_warmup, progress=False,
                          resume=True, checkpoint_every=50, cache_features=not init)
    train_warmup(config)
    return out / "checkpoint"


def _scores(checkpoint: Path, data: str, labelled: int, seed: int) -> dict:
    """{split: {name: {task: {metric: value}}}} on validation and test, plain (``model``) and ``model_tta``."""
    from diff2in1.perception.evaluation import evaluate
    from diff2in1.perception.pipeline import Diff2in1Pipeline
    from diff2in1.perception.splits import open_split, unlabelled_subset

    pipe = Diff2in1Pipeline.from_pretrained(checkpoint)
    train = open_split("rooms", data, "train", TASKS, pipe.backbone.sample_size)
    splits = {"val": unlabelled_subset(train, labelled, seed), "test": open_split("rooms", data, "test", TASKS, 64)}
    for split in splits.values():
        split.num_classes = train.num_classes
    with pipe.unet_of():
        return {name: evaluate(pipe.backbone, {"model": pipe.head}, split, flip=True, progress=False)
                for name, split in splits.items()}


def run_seed(work: Path, data: str, labelled: int, seed: int, steps: int, warmup_steps: int) -> None:
    folder = work / f"L{labelled}" / f"s{seed}"
    start = _warmup(data, folder / "frozen_warmup", labelled, seed, warmup_steps)
    for mode in MODES:
        scores_file = folder / mode / "scores.json"
        if scores_file.is_file():
            continue
        print(f"gate L{labelled} s{seed}: {mode}", flush=True)
        checkpoint = _warmup(data, folder / mode, labelled, seed, steps, mode, init=str(start), lr_warmup=10)
        scores = _scores(checkpoint, data, labelled, seed)
        scores_file.write_text(json.dumps({"scores": scores, "steps": steps, "commit": _commit(),
                                           "command": " ".join([sys.executable, *sys.argv])}, indent=1))


def _headline(scores: dict, split: str, tta: bool) -> dict[str, float]:
    name = "model_tta" if tta else "model"
    return {task: scores[split][name][task][metric] for task, (metric, _) in HEADLINE.items()}


def collect(work: Path, results: Path) -> dict:
    runs: dict = {}
    for file in sorted(work.glob("L*/s*/*/scores.json")):
        mode, seed, labelled = file.parent.name, file.parent.parent.name, file.parent.parent.parent.name
        record = json.loads(file.read_text())
        runs.setdefault(labelled, {}).setdefault(mode, {})[seed] = {
            f"{split}{'_tta' if tta else ''}": _headline(record["scores"], split, tta)
            for split in ("val", "test") for tta in (False, True)} | {"git_commit": record["commit"],
                                                                      "command": record["command"]}
    out = {"command": " ".join([sys.executable, *sys.argv]), "git_commit": _commit(), "machine": _machine(),
           "rooms": ROOMS, "tasks": TASKS,
           "design": __doc__.split("\n\n")[1], "runs": runs, "paired": _paired(runs)}
    results.mkdir(parents=True, exist_ok=True)
    (results / "backbone_gate.json").write_text(json.dumps(out, indent=1))
    (results / "backbone_gate.md").write_text(_table(out))
    return out


def _paired(runs: dict) -> dict:
    """Per label count and trained mode: mean and std over seeds of (mode - none), per split and metric."""
    import statistics

    paired: dict = {}
    for labelled, modes in runs.items():
        for mode in ("lora", "full"):
            seeds = sorted(set(modes.get(mode, {})) & set(modes.get("none", {})))
            if not seeds:
                continue
            for key in ("val", "val_tta", "test", "test_tta"):
                for task in HEADLINE:
                    diffs = [modes[mode][s][key][task] - modes["none"][s][key][task] for s in seeds]
                    sd = statistics.stdev(diffs) if len(diffs) > 1 else float("nan")
                    paired.setdefault(labelled, {}).setdefault(mode, {}).setdefault(key, {})[task] = {
                        "mean": statistics.fmean(diffs), "sd": sd, "seeds": len(diffs)}
    return paired


def _table(out: dict) -> str:
    lines = [f"# Trainable-backbone gate\n\nCollected by `{out['command']}` at {out['git_commit'][:7]} on {out['machine']}; each run's command and commit are in backbone_gate.json\n",
             "Paired by seed against `none` (heads only, same steps); negative = better for normals' mean "
             "error and depth abs_rel, positive = better for mIoU.\n",
             "| labels | mode | split | normal mean (°) | depth abs_rel | mIoU | seeds |", "|---|---|---|---|---|---|---|"]
    for labelled, modes in sorted(out["paired"].items()):
        for mode, keys in modes.items():
            for key, tasks in keys.items():
                cells = [f"{tasks[t]['mean']:+.4f} ± {tasks[t]['sd']:.4f}" for t in HEADLINE]
                lines.append(f"| {labelled[1:]} | {mode} | {key} | {' | '.join(cells)} | {tasks['normal']['seeds']} |")
    lines += ["", "Absolute scores (mean over seeds):", "",
              "| labels | mode | split | normal mean (°) | depth abs_rel | mIoU | seeds |", "|---|---|---|---|---|---|---|"]
    for labelled, modes in sorted(out["runs"].items()):
        for mode in MODES:
            seeds = modes.get(mode, {})
            for key in ("val_tta", "test_tta", "test"):
                if seeds:
                    cells = [f"{sum(s[key][t] for s in seeds.values()) / len(seeds):.4f}" for t in HEADLINE]
                    lines.append(f"| {labelled[1:]} | {mode} | {key} | {' | '.join(cells)} | {len(seeds)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelled", type=int, nargs="+", default=[100, 800])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300, help="stage B steps, every mode alike")
    parser.add_argument("--warmup-steps", type=int, default=1500, help="stage A steps (the benchmark's warm-up)")
    parser.add_argument("--work", default=os.path.expanduser("~/.cache/diff2in1/bench/backbone_gate"))
    parser.add_argument("--results", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--collect-only", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    if not args.collect_only:
        data = _rooms(work)
        for labelled in args.labelled:
            for seed in args.seeds:
                run_seed(work, data, labelled, seed, args.steps, args.warmup_steps)
    out = collect(work, Path(args.results))
    print(_table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
