"""Why does self-improvement (not) beat the fair control? Trials on a validation split carved from train.

    python bench/self_improve_tuning.py [--labelled 100] [--seeds 0 1] [--trials control diff2in1 ...]

Every trial starts from the demo settings (src/diff2in1/configs/demo.yaml) and changes one thing: the
share of real samples, θC's EMA rate, confidence filtering, t*, images created per source, the length of
the improve stage or of the warm-up, and θC labelling from the image and its mirror (a flip ensemble).
One diagnostic is not Diff-2-in-1: `teacher_wide` labels the synthetic samples with a fixed, wider head
warmed up on the same labels, to show what better labels on the same created images would buy. All are evaluated on the 'unlabelled' split (250 training images
outside the labelled subset), never on the test split, so the choice they inform is not tuned on test.
Reported: θC's metrics (θE's as well in the JSON) and each trial's difference to the control that shares
its warm-up. Results: bench/results/self_improve_tuning.{json,md}. Finished runs in --work are reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from diff2in1.cli.run import demo_config_path
from diff2in1.fileio import read_json, write_json, write_text
from diff2in1.workflow.run import load_run_config, stage_configs

# name: (warm-up overrides, create overrides, improve overrides, the control it is compared with)
TRIALS: dict[str, tuple[dict, dict, dict, str]] = {
    "control": ({}, {}, {"real_fraction": 1.0}, "control"),
    "diff2in1": ({}, {}, {}, "control"),
    "real_0.75": ({}, {}, {"real_fraction": 0.75}, "control"),
    "real_0.25": ({}, {}, {"real_fraction": 0.25}, "control"),
    "ema_0.99": ({}, {}, {"ema_decay": 0.99}, "control"),
    "drop_0.3": ({}, {}, {"confidence_drop": 0.3}, "control"),
    "t_star_400": ({}, {"t_star": 400}, {}, "control"),
    "t_star_800": ({}, {"t_star": 800}, {}, "control"),
    "per_image_4": ({}, {"per_image": 4}, {}, "control"),
    "stored_labels": ({}, {}, {"labels": "stored"}, "control"),
    "mirror_labels": ({}, {}, {"label_mirror": True}, "control"),
    # diagnostic: labels from a fixed, better teacher (a 128-wide head warmed up on the same labels)
    "teacher_wide": ({}, {}, {"teacher": {"channels": 128}}, "control"),
    "long_control": ({}, {}, {"real_fraction": 1.0, "steps": 1200}, "long_control"),
    "long_diff2in1": ({}, {}, {"steps": 1200}, "long_control"),
    "long_mirror": ({}, {}, {"steps": 1200, "label_mirror": True}, "long_control"),
    "warm_control": ({"steps": 1500}, {}, {"real_fraction": 1.0}, "warm_control"),
    "warm_diff2in1": ({"steps": 1500}, {}, {}, "warm_control"),
}
HEADLINE = {"normal": "mean", "depth": "abs_rel", "semseg": "miou"}
LOWER_IS_BETTER = {"mean", "abs_rel"}


def _key(overrides: dict) -> str:
    return "-".join(f"{k}{v}" for k, v in sorted(overrides.items())) or "default"


def run_trial(work: Path, labelled: int, seed: int, data: str, name: str) -> dict[str, dict]:
    """{"theta_c": {task: {metric: v}}, "theta_e": …, "warmup": …} of one trial on the validation split."""
    from diff2in1.creation import create_dataset
    from diff2in1.training.improve import train_improve
    from diff2in1.training.warmup import train_warmup

    warm_over, create_over, improve_over, _ = TRIALS[name]
    improve_over = dict(improve_over)
    folder = work / f"L{labelled}" / f"s{seed}"
    base = load_run_config(demo_config_path(), out=str(folder))
    base.shared.update({"num_labelled": labelled, "seed": seed, "data": data, "progress": False,
                        "eval_split": "unlabelled"})
    warmup, create, improve = stage_configs(base)
    features = str(work / "features")  # frozen-backbone features, shared by every trial
    warmup = replace(warmup, **warm_over, cache_dir=features, out=str(folder / f"warmup-{_key(warm_over)}"))
    if not (Path(warmup.out) / "metrics.json").is_file():
        train_warmup(warmup)
    checkpoint = str(Path(warmup.out) / "checkpoint")
    if isinstance(improve_over.get("teacher"), dict):  # warm up the teacher with these changes, same labels
        teacher = replace(warmup, **improve_over["teacher"], out=str(folder / f"warmup-{_key(improve_over['teacher'])}"))
        if not (Path(teacher.out) / "metrics.json").is_file():
            train_warmup(teacher)
        improve_over["teacher"] = str(Path(teacher.out) / "checkpoint")
    create = replace(create, **create_over, checkpoint=checkpoint, progress=False,
                     out=str(folder / f"synthetic-{_key(create_over)}-warmup-{_key(warm_over)}"))
    config = replace(improve, **improve_over, cache_dir=features, warmup=checkpoint, synthetic=create.out, out=str(folder / name))
    if config.real_fraction < 1.0:
        create_dataset(create)
    if not (Path(config.out) / "metrics.json").is_file():
        train_improve(config)
    metrics = read_json(Path(config.out) / "metrics.json")["metrics"]
    return {**metrics, "warmup": read_json(Path(warmup.out) / "metrics.json")["metrics"]}


def markdown(runs: dict[str, dict[str, dict]], labelled: int) -> str:
    """Headline metrics of θC and θE per trial (mean over seeds) and their difference to the trial's control."""
    lines = [f"# Self-improvement trials, {labelled} labelled rooms, validation split ('unlabelled')", "",
             "Mean over seeds; Δ = trial − its control, same head (negative is better for ↓ metrics).", ""]
    for head, title in (("theta_c", "θC (EMA, the reported model)"), ("theta_e", "θE (trained weights)")):
        lines += [f"## {title}", "",
                  "| trial | seeds | " + " | ".join(f"{t} {m} {'↓' if m in LOWER_IS_BETTER else '↑'} (Δ)"
                                                  for t, m in HEADLINE.items()) + " |",
                  "|---|---|" + "---|" * len(HEADLINE)]
        for name, seeds in runs.items():
            control = runs.get(TRIALS[name][3], {})
            cells = []
            for task, metric in HEADLINE.items():
                value = statistics.fmean(seeds[s][head][task][metric] for s in seeds)
                shared = [s for s in seeds if s in control]
                delta = (statistics.fmean(seeds[s][head][task][metric] - control[s][head][task][metric]
                                          for s in shared) if shared else float("nan"))
                digits = 2 if metric == "mean" else 4
                cells.append(f"{value:.{digits}f} ({delta:+.{digits}f})")
            lines.append(f"| {name} | {len(seeds)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelled", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--trials", nargs="+", default=list(TRIALS), choices=list(TRIALS))
    parser.add_argument("--work", default=str(Path.home() / ".cache" / "diff2in1" / "bench" / "tuning"))
    parser.add_argument("--results", default="bench/results")
    parser.add_argument("--collect-only", action="store_true", help="rewrite the table from the saved JSON")
    args = parser.parse_args(argv)
    work, results = Path(args.work), Path(args.results)
    data = str(Path.home() / ".cache" / "diff2in1" / "bench" / "self_improve" / "rooms")
    if not (Path(data) / "meta.json").is_file():
        from diff2in1.data.rooms import RoomsConfig, generate_rooms

        generate_rooms(RoomsConfig(out=data, **load_run_config(demo_config_path()).rooms), progress=False)
    path = results / "self_improve_tuning.json"
    saved = read_json(path) if path.is_file() else {}
    runs: dict = saved.get("runs", {})
    for seed in [] if args.collect_only else args.seeds:
        for name in args.trials:
            print(f"trial {name}, seed {seed}", file=sys.stderr, flush=True)
            runs.setdefault(name, {})[str(seed)] = run_trial(work, args.labelled, seed, data, name)
            write_json(path, {"labelled": args.labelled, "split": "unlabelled", "runs": runs,
                              "trials": {k: [str(v) for v in TRIALS[k][:3]] for k in runs},
                              "command": "python bench/self_improve_tuning.py " + " ".join(argv or sys.argv[1:])})
    ordered = {name: runs[name] for name in TRIALS if name in runs}
    text = markdown(ordered, args.labelled)
    write_text(results / "self_improve_tuning.md", text)
    print(text)
    print(json.dumps({"written": str(path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
