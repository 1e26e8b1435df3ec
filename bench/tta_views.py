"""Is a student's gain more than its teacher's ensemble, distilled? Every arm scored with the teacher's views too.

    python bench/tta_views.py --seeds 0 1 2      # after bench/self_improve.py ran the arms

The shift teacher (``--teacher-views flip_shifts``: θC averages the image, its mirror and their eight shifted
views) labels better than flip averaging does (bench/teacher_views.py). A student trained on its targets can
then beat the control with flip averaging on both sides just by having absorbed those ten views; if so, the
control averaged over the same ten views at test time matches it. So each arm's θE is scored here with flip
averaging and with the ten views, on validation and test, and paired by seed against the control scored the
same way. Writes bench/results/tta_views.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from self_improve_runner import COMMIT, machine, seed_config
from teacher_views import SHIFTS, score

MODES = {"flip": [0, 1], "shifts": [0, 1, *SHIFTS]}
KEYS = {"normal.mean": ("normal", "mean"), "depth.abs_rel": ("depth", "abs_rel"), "semseg.miou": ("semseg", "miou")}


def one_seed(work: Path, seed: int, arms: list[str], shift: float) -> dict:
    """{split: {arm: {mode: {metric: value}}}} of θE of each finished arm (and the warm-up)."""
    from diff2in1.perception.checkpoint import load_perception
    from diff2in1.training.head_training import HeadTraining
    from diff2in1.training.samples import open_samples
    from diff2in1.workflow.run import stage_configs

    warmup, _, improve = stage_configs(seed_config(work, 100, seed))
    out: dict = {}
    for split, name in (("val", "unlabelled"), ("test", "test")):
        run = HeadTraining(replace(improve, eval_split=name, out=str(work / "tta_views")), work / "tta_views")
        samples = open_samples(run.eval_set, in_memory=True)
        for arm in arms:
            folder = Path(warmup.out).parent / arm
            if not (folder / "metrics.json").is_file():
                continue
            model = load_perception(folder / "checkpoint", which="model")[0].to(run.backbone.device).eval()
            for mode, views in MODES.items():
                metrics = score(views, 0.7, 0.0, shift, model, run.backbone, samples, str(work / "features"),
                                run.num_classes)
                out.setdefault(split, {}).setdefault(arm, {})[mode] = {k: metrics[t][m] for k, (t, m) in KEYS.items()}
                print(f"s{seed} {split} {arm} {mode}: {out[split][arm][mode]}", file=sys.stderr, flush=True)
    return out


def paired_rows(per_seed: dict, split: str, arms: list[str]) -> list[str]:
    """Markdown rows: arm (mode) − control (mode) per seed, mean ± std (wins)."""
    rows = []
    pairs = [("flip", "flip"), ("shifts", "shifts"), ("flip", "shifts")]
    for arm in arms:
        if arm == "control":
            continue
        for mine, theirs in pairs:
            cells = []
            for key in KEYS:
                deltas = [s[split][arm][mine][key] - s[split]["control"][theirs][key]
                          for s in per_seed.values() if arm in s.get(split, {}) and "control" in s.get(split, {})]
                if not deltas:
                    cells.append("–")
                    continue
                wins = sum((d > 0) if key == "semseg.miou" else (d < 0) for d in deltas)
                std = statistics.stdev(deltas) if len(deltas) > 1 else 0.0
                cells.append(f"{statistics.mean(deltas):+.4f} ± {std:.4f} ({wins}/{len(deltas)})")
            rows.append(f"| {arm} ({mine}) − control ({theirs}) | " + " | ".join(cells) + " |")
    return rows


def mean_rows(per_seed: dict, split: str, arms: list[str]) -> list[str]:
    rows = []
    for arm in arms:
        for mode in MODES:
            values = [[s[split][arm][mode][key] for s in per_seed.values() if arm in s.get(split, {})] for key in KEYS]
            if values[0]:
                rows.append(f"| {arm} | {mode} | " + " | ".join(f"{statistics.mean(v):.4f}" for v in values) + " |")
    return rows


def main(argv: list[str] | None = None) -> int:
    from diff2in1.fileio import write_json, write_text

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["warmup", "control", "unlabelled_shifts", "unlabelled_shifts_tau",
                                                      "oracle"])
    parser.add_argument("--shift", type=float, default=1 / 32, help="the shifted views' move (the arms' --view-shift)")
    parser.add_argument("--work", default=str(Path.home() / ".cache" / "diff2in1" / "bench" / "self_improve_v2"))
    parser.add_argument("--results", default="bench/results")
    args = parser.parse_args(argv)
    per_seed = {seed: one_seed(Path(args.work), seed, args.arms, args.shift) for seed in args.seeds}
    command = "python bench/tta_views.py " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {"command": command, "git_commit": COMMIT, "machine": machine(), "labelled": 100, "head": "theta_e",
            "modes": MODES, "shift": args.shift}
    write_json(Path(args.results) / "tta_views.json", {**meta, "seeds": per_seed})
    header = "| {} | normal mean ° | depth abs_rel | mIoU |\n|---|---|---|---|"
    parts = [f"# Test-time views: each arm's θE with flip averaging and with the shift teacher's ten views\n\n"
             f"Command: `{command}`; commit `{COMMIT}`; {meta['machine']}. 100 labels, seeds {args.seeds}; θE of "
             f"each arm; flip = the image and its mirror, shifts = those and their eight views shifted by "
             f"{args.shift:g} of the side. Paired by seed, mean ± std (wins); negative is better for errors.\n"]
    for split in ("test", "val"):
        parts.append(f"## {split}: paired against the control\n\n" + header.format("arm − control") + "\n"
                     + "\n".join(paired_rows(per_seed, split, args.arms)) + "\n")
        parts.append(f"## {split}: means\n\n| arm | views | normal mean ° | depth abs_rel | mIoU |\n|---|---|---|---|---|\n"
                     + "\n".join(mean_rows(per_seed, split, args.arms)) + "\n")
    text = "\n".join(parts)
    write_text(Path(args.results) / "tta_views.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
