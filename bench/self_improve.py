"""Does self-improvement help? Rooms, 100 and 800 labelled images, 3 seeds, five variants.

    python bench/self_improve.py [--labelled 100 800] [--seeds 0 1 2] [--work DIR]

Variants (all start from the same warm-up of each seed, improve for the same number of steps):
  warmup          the warm-up model alone
  control         warm-up continued on real data only, same steps and same EMA (θC reported)
  fixed_labels    real + synthetic, labels from the frozen warm-up model (θC never updates), no EMA (θE)
  diff2in1        real + synthetic, θC = EMA of θE re-labels each step (θC reported)
  diff2in1_online diff2in1 with the synthetic images re-created by θC half-way (θC reported)
Settings are the demo's (src/diff2in1/configs/demo.yaml), so `make demo` reproduces labelled=100, seed 0.
Results: bench/results/self_improve.json ({"labelled": {L: {variant: {task: {metric: [mean, std]}}}}}),
bench/results/self_improve.md, and per-run values in bench/results/self_improve_runs.json.
Runs are resumable: finished stages in --work are reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from diff2in1.cli.run import demo_config_path
from diff2in1.fileio import read_json, write_json, write_text
from diff2in1.workflow.run import load_run_config, stage_configs

VARIANTS = {
    "control": ({"real_fraction": 1.0}, "theta_c"),
    "fixed_labels": ({"ema_decay": 1.0}, "theta_e"),
    "diff2in1": ({}, "theta_c"),
    "diff2in1_online": ({"recreate_every": -1}, "theta_c"),  # -1: half-way, filled in below
}
LOWER_IS_BETTER = {"mean", "median", "rmse", "abs_rel", "sq_rel", "rmse_log", "log10"}


def one_seed(work: Path, labelled: int, seed: int, data: str) -> dict[str, dict]:
    """Metrics of every variant for one (labelled, seed), each {task: {metric: value}}."""
    from dataclasses import replace

    from diff2in1.creation import create_dataset
    from diff2in1.training.improve import train_improve
    from diff2in1.training.warmup import train_warmup

    base = load_run_config(demo_config_path(), out=str(work / f"L{labelled}" / f"s{seed}"))
    base.shared.update({"num_labelled": labelled, "seed": seed, "data": data, "progress": False})
    warmup, create, improve = stage_configs(base)
    # Features of a frozen backbone depend only on the image: every variant and seed reads them from disk.
    features = str(work / "features")
    warmup, improve = replace(warmup, cache_dir=features), replace(improve, cache_dir=features)
    if not (Path(warmup.out) / "metrics.json").is_file():
        train_warmup(warmup)
    # The created images do not depend on the seed's head (labels are re-predicted), so one set per L.
    create = replace(create, out=str(work / f"L{labelled}" / "synthetic"), progress=False,
                     checkpoint=str(work / f"L{labelled}" / "s0" / "warmup" / "checkpoint"))
    create_dataset(create)
    results = {"warmup": read_json(Path(warmup.out) / "metrics.json")["metrics"]}
    for name, (overrides, head) in VARIANTS.items():
        if overrides.get("recreate_every") == -1:
            overrides = {**overrides, "recreate_every": improve.steps // 2}
        config = replace(improve, **overrides, out=str(Path(base.out) / name), synthetic=create.out)
        if not (Path(config.out) / "metrics.json").is_file():
            train_improve(config)
        results[name] = read_json(Path(config.out) / "metrics.json")["metrics"][head]
    return results


def collect_finished(work: Path, labelled: list[int], seeds: list[int]) -> dict[str, dict]:
    """Per-run metrics of every variant that has finished in ``work`` (for a partial table)."""
    runs: dict = {}
    for count in labelled:
        for seed in seeds:
            folder = work / f"L{count}" / f"s{seed}"
            found = {}
            if (folder / "warmup" / "metrics.json").is_file():
                found["warmup"] = read_json(folder / "warmup" / "metrics.json")["metrics"]
            for name, (_, head) in VARIANTS.items():
                if (folder / name / "metrics.json").is_file():
                    found[name] = read_json(folder / name / "metrics.json")["metrics"][head]
            if found:
                runs.setdefault(str(count), {})[str(seed)] = found
    return runs


def aggregate(runs: dict[str, dict[str, dict]]) -> dict:
    """{L: {variant: {task: {metric: [mean, std]}}}} over seeds."""
    out: dict = {}
    for labelled, seeds in runs.items():
        first = next(iter(seeds.values()))
        out[labelled] = {}
        for variant, tasks in first.items():
            done = [s for s in seeds if variant in seeds[s]]
            out[labelled][variant] = {
                task: {m: _mean_std([seeds[s][variant][task][m] for s in done]) for m in metrics}
                for task, metrics in tasks.items()
            }
            out[labelled][variant]["seeds"] = [int(s) for s in done]
    return out


def paired_deltas(runs: dict[str, dict[str, dict]], variant: str = "diff2in1", against: str = "control") -> dict:
    """{L: {task: {metric: [mean, std, seeds where variant is better, seeds]}}} of variant − against, per seed."""
    out: dict = {}
    for labelled, seeds in runs.items():
        done = [s for s in seeds if variant in seeds[s] and against in seeds[s]]
        if not done:
            continue
        tasks = seeds[done[0]][variant]
        out[labelled] = {}
        for task, metrics in tasks.items():
            out[labelled][task] = {}
            for metric in metrics:
                deltas = [seeds[s][variant][task][metric] - seeds[s][against][task][metric] for s in done]
                better = sum((d < 0) if metric in LOWER_IS_BETTER else (d > 0) for d in deltas)
                out[labelled][task][metric] = [*_mean_std(deltas), better, len(deltas)]
    return out


def _mean_std(values: list[float]) -> list[float]:
    return [statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0]


HEADLINE = {"normal": ["mean", "median", "a11.25"], "depth": ["abs_rel", "rmse", "d1"], "semseg": ["miou", "pixel_acc"]}


def markdown_deltas(deltas: dict) -> list[str]:
    lines = ["## Diff-2-in-1 (θC) − control, paired by seed", "",
             "Mean ± std over seeds of the per-seed difference; 'better' counts the seeds where Diff-2-in-1 wins.", "",
             "| labelled | task | metric | Δ mean ± std | better |", "|---|---|---|---|---|"]
    for labelled, tasks in deltas.items():
        for task, metrics in tasks.items():
            for metric in HEADLINE.get(task, list(metrics)):
                if metric in metrics:
                    mean, std, better, n = metrics[metric]
                    arrow = "↓" if metric in LOWER_IS_BETTER else "↑"
                    lines.append(f"| {labelled} | {task} | {metric} {arrow} | {mean:+.4f} ± {std:.4f} | {better}/{n} |")
    return lines + [""]


def markdown(table: dict, seeds: int, deltas: dict | None = None) -> str:
    lines = [f"# Self-improvement on rooms ({seeds} seeds, mean ± std, test split)", ""]
    lines += markdown_deltas(deltas or {})
    for labelled, variants in table.items():
        lines += [f"## {labelled} labelled images", ""]
        names = list(variants)
        tasks = {k: v for k, v in variants["warmup"].items() if k != "seeds"}
        lines.append("seeds per variant: " + ", ".join(f"{v} {variants[v]['seeds']}" for v in names))
        lines.append("")
        lines.append("| task | metric | " + " | ".join(names) + " |")
        lines.append("|---|---|" + "---|" * len(names))
        for task, metrics in tasks.items():
            for metric in metrics:
                arrow = "↓" if metric in LOWER_IS_BETTER else "↑"
                cells = [f"{variants[v][task][metric][0]:.3f} ± {variants[v][task][metric][1]:.3f}" for v in names]
                lines.append(f"| {task} | {metric} {arrow} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelled", type=int, nargs="+", default=[100, 800])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", default=str(Path.home() / ".cache" / "diff2in1" / "bench" / "self_improve"))
    parser.add_argument("--results", default="bench/results")
    parser.add_argument("--collect-only", action="store_true", help="tabulate the variants finished so far")
    args = parser.parse_args(argv)
    work, results = Path(args.work), Path(args.results)
    if args.collect_only:
        return write_tables(collect_finished(work, args.labelled, args.seeds), results, args, argv)
    base = load_run_config(demo_config_path())
    data = str(work / "rooms")
    if not (Path(data) / "meta.json").is_file():
        from diff2in1.data.rooms import RoomsConfig, generate_rooms

        generate_rooms(RoomsConfig(out=data, **base.rooms), progress=False)
    runs_path = results / "self_improve_runs.json"
    runs: dict = read_json(runs_path) if runs_path.is_file() else {}
    for labelled in args.labelled:
        for seed in args.seeds:
            key = str(labelled)
            if str(seed) in runs.get(key, {}):
                continue
            print(f"labelled {labelled}, seed {seed}", file=sys.stderr, flush=True)
            runs.setdefault(key, {})[str(seed)] = one_seed(work, labelled, seed, data)
            write_json(runs_path, runs)
    return write_tables({k: v for k, v in runs.items() if int(k) in args.labelled}, results, args, argv)


def write_tables(runs: dict, results: Path, args: argparse.Namespace, argv: list[str] | None) -> int:
    write_json(results / "self_improve_runs.json", runs)
    table = aggregate(runs)
    deltas = paired_deltas(runs)
    write_json(results / "self_improve.json", {"labelled": table, "seeds": args.seeds,
                                               "diff2in1_minus_control": deltas,
                                               "command": "python bench/self_improve.py " + " ".join(argv or sys.argv[1:]),
                                               "settings": str(demo_config_path().name),
                                               **({"runs_made_by": "python bench/self_improve.py --labelled L --seeds S "
                                                   "(any split into processes; finished stages are reused)"}
                                                  if getattr(args, "collect_only", False) else {})})
    text = markdown(table, len(args.seeds), deltas)
    write_text(results / "self_improve.md", text)
    print(text)
    print(json.dumps({"written": str(results / "self_improve.json")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
