"""Which views make the best teacher? θC's ensemble targets scored against the ground truth, on validation.

    python bench/teacher_views.py --seeds 0 1 2      # after bench/self_improve.py made the warm-ups

The student can only learn what its targets know. With flip averaging at test time on both sides, the
student beats the control only if its teacher's targets are better than the control's own flip-averaged
predictions, so each candidate ensemble is scored here against "flip" (the test-time averaging every
arm gets). Teacher (--teacher): each seed's warm-up θC (what labels the pool at the start of stage 2), or
the control arm's θC after stage 2 (which trained on every view, crops included). Validation
split only (250 training images outside the labelled set). Views (``self_improving/views.py``): 0 the image,
1 its mirror, 2.. perturbed crops of a bank, 1000 + k / 2000 + k the image / mirror with noise draw k,
3000 + k the image (k even) / mirror (k odd) shifted diagonally by a share of the side (the same camera).
flip_headsK: θC averaged with K - 1 heads warmed up on the same labels from other seeds (a deep ensemble; they
are the seed's warmup_k1.. of bench/self_improve.py). Writes bench/results/teacher_views.{json,md}
(teacher_views-L{N}.* with --labelled N, for another label count's warm-ups).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

from diff2in1.self_improving.views import shifted_views
from self_improve_runner import COMMIT, extra_warmup_config, machine, seed_config

NOISE = [1000 + k for k in range(4)] + [2000 + k for k in range(4)]
SHIFTS = shifted_views(8)
CANDIDATES = {  # name: (views, crop_min_scale, jitter[, shift]); crop settings matter for views 2..n only
    "clean": ([0], 0.7, 0.2),
    "flip": ([0, 1], 0.7, 0.2),
    "flip_noise8": ([0, 1, *NOISE], 0.7, 0.2),
    "crops6_jitter": (list(range(6)), 0.7, 0.2),  # the benchmark's teacher (views 6, jitter 0.2)
    "crops6": (list(range(6)), 0.7, 0.0),
    "crops10": (list(range(10)), 0.7, 0.0),
    "crops10_s85": (list(range(10)), 0.85, 0.0),
    "crops10_s85_noise": (list(range(10)) + NOISE, 0.85, 0.0),
    "flip_shift4": ([0, 1, *SHIFTS[:4]], 0.7, 0.0, 4 / 64),  # two directions, image and mirror
    "flip_shift4_x8": ([0, 1, *SHIFTS], 0.7, 0.0, 4 / 64),  # four directions
    "flip_shift2_x8": ([0, 1, *SHIFTS], 0.7, 0.0, 2 / 64),
    "flip_shift8_x8": ([0, 1, *SHIFTS], 0.7, 0.0, 8 / 64),
    # a deep ensemble: θC and the warm-ups of the same labels with other training seeds (warmup_k1..), averaged
    "flip_heads2": ([0, 1], 0.7, 0.0, 1 / 16, 2),
    "flip_heads3": ([0, 1], 0.7, 0.0, 1 / 16, 3),
    "flip_heads4": ([0, 1], 0.7, 0.0, 1 / 16, 4),
    "flip_heads5": ([0, 1], 0.7, 0.0, 1 / 16, 5),
    "flip_heads6": ([0, 1], 0.7, 0.0, 1 / 16, 6),
}


def score(views: list[int], scale: float, jitter: float, shift: float, model, backbone, samples, folder: str,
          num_classes: int):
    from diff2in1.metrics import compute_all, make_accumulators, update_from_batch
    from diff2in1.perception.splits import to_device
    from diff2in1.self_improving.teacher import ensemble_targets
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.feature_cache import FeatureCache, FeatureEntries

    bank = ViewBank(max(v for v in views if v < 1000) + 1, scale, jitter, seed=0, shift=shift)
    store = FeatureCache(backbone, samples, bank, FeatureEntries(folder))
    accumulators = make_accumulators(model.tasks, num_classes)
    for start in range(0, len(samples), 32):
        rows = torch.arange(start, min(start + 32, len(samples)))
        targets = ensemble_targets(model, store, rows, views, samples.size)
        preds = {task: targets[task] for task in model.tasks}
        update_from_batch(accumulators, preds, to_device(samples.read(rows), backbone.device))
    return compute_all(accumulators)


def one_seed(work: Path, seed: int, teacher: str, names: list[str], labelled: int = 100) -> dict:
    from diff2in1.perception.checkpoint import load_perception
    from diff2in1.training.head_training import HeadTraining
    from diff2in1.training.samples import open_samples
    from diff2in1.workflow.run import stage_configs

    warmup, _, improve = stage_configs(seed_config(work, labelled, seed))
    run = HeadTraining(replace(improve, eval_split="unlabelled", out=str(work / "teacher_views")), work / "teacher_views")
    folder = Path(warmup.out) if teacher == "warmup" else Path(warmup.out).parent / teacher
    model = load_perception(folder / "checkpoint", which="theta_c")[0].to(run.backbone.device).eval()
    samples = open_samples(run.eval_set, in_memory=True)
    out = {}
    for name in names:
        views, scale, jitter, shift, heads = (*CANDIDATES[name], *(1 / 16, 1)[len(CANDIDATES[name]) - 3:])
        metrics = score(views, scale, jitter, shift, with_extra_heads(model, work, seed, heads, labelled), run.backbone,
                        samples, str(work / "features"), run.num_classes)
        out[name] = {"normal.mean": metrics["normal"]["mean"], "depth.abs_rel": metrics["depth"]["abs_rel"],
                     "semseg.miou": metrics["semseg"]["miou"]}
        print(f"s{seed} {name}: {out[name]}", file=sys.stderr, flush=True)
    return out


def with_extra_heads(model, work: Path, seed: int, heads: int, labelled: int = 100):
    """``model`` averaged with the first heads - 1 extra warm-ups of the seed (bench/self_improve.py's
    extra_warmups: the same labels, training seeds 100 + k), or ``model`` itself when heads is 1."""
    from diff2in1.perception.checkpoint import load_perception
    from diff2in1.self_improving.teacher import HeadEnsemble

    if heads == 1:
        return model
    device = next(model.parameters()).device
    extra = [load_perception(Path(extra_warmup_config(work, labelled, seed, k).out) / "checkpoint", which="model")[0]
             .to(device).eval() for k in range(1, heads)]
    return HeadEnsemble([model, *extra]).eval()


def table(per_seed: dict[int, dict], names: list[str]) -> str:
    keys = ("normal.mean", "depth.abs_rel", "semseg.miou")
    lines = ["| teacher views | " + " | ".join(f"{k} − flip" for k in keys) + " | " + " | ".join(keys) + " |",
             "|---|" + "---|" * (2 * len(keys))]
    for name in names:
        deltas, values = [], []
        for key in keys:
            d = torch.tensor([per_seed[s][name][key] - per_seed[s]["flip"][key] for s in per_seed])
            v = torch.tensor([per_seed[s][name][key] for s in per_seed])
            std = float(d.std()) if len(d) > 1 else 0.0
            deltas.append(f"{float(d.mean()):+.4f} ± {std:.4f}")
            values.append(f"{float(v.mean()):.4f}")
        lines.append(f"| {name} {CANDIDATES[name][0]} | " + " | ".join(deltas) + " | " + " | ".join(values) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from diff2in1.fileio import write_json, write_text

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--labelled", type=int, default=100, help="whose warm-ups: that label count's")
    parser.add_argument("--work", default=str(Path.home() / ".cache" / "diff2in1" / "bench" / "self_improve_v2"))
    parser.add_argument("--teacher", default="warmup", choices=["warmup", "control"], help="whose θC labels")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES),
                        help="ensembles to score (flip, the reference, always)")
    parser.add_argument("--results", default="bench/results")
    parser.add_argument("--suffix", default="", help="results file name: teacher_views[-TEACHER][-LN][SUFFIX].{json,md}")
    args = parser.parse_args(argv)
    names = ["flip", *(c for c in args.candidates if c != "flip")]
    per_seed = {seed: one_seed(Path(args.work), seed, args.teacher, names, args.labelled) for seed in args.seeds}
    command = "python bench/teacher_views.py " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {"command": command, "git_commit": COMMIT, "machine": machine(), "split": "val (unlabelled)",
            "teacher": f"{args.teacher} θC ({args.labelled} labels)", "candidates": {k: list(CANDIDATES[k]) for k in names}}
    stem = ("teacher_views" + ("" if args.teacher == "warmup" else f"-{args.teacher}")
            + ("" if args.labelled == 100 else f"-L{args.labelled}") + args.suffix)
    write_json(Path(args.results) / f"{stem}.json", {**meta, "seeds": per_seed})
    text = (f"# Teacher views: θC's ensemble targets against the ground truth (validation)\n\n"
            f"Command: `{command}`; commit `{COMMIT}`; {meta['machine']}. Teacher: each seed's {args.teacher} θC at {args.labelled} labels; "
            f"mean ± std over seeds {args.seeds}; negative is better for errors, positive for mIoU.\n\n"
            f"{table(per_seed, names)}\n")
    write_text(Path(args.results) / f"{stem}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
