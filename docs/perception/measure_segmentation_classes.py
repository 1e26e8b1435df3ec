"""Why did segmentation with 800 labels score below 100 labels? Per-class IoU of warm-ups on rooms.

    python docs/perception/measure_segmentation_classes.py [--labelled 100 800] [--steps 1500 4500]
    python docs/perception/measure_segmentation_classes.py --bench-seeds 0 1 2 [--labelled 25 100 800] \
        [--train-labelled 800 --steps 4500]

Warm-ups at the demo's settings (64-wide heads, batch 8, lr 3.57e-4, cosine) with the given label counts
and step counts, scored on the validation split (250 training images outside the labelled set): mIoU,
pixel accuracy and the IoU of every class, and each class's share of the labelled pixels. With
--bench-seeds, the warm-ups of bench/self_improve.py (its own labelled subset per seed, 1500 steps) are
scored, and warm-ups are trained only for --train-labelled (their features read from the bench's folder). Writes
docs/perception/segmentation_classes.{json,md}. Work folder: ~/.cache/diff2in1/docs/segmentation_classes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

from diff2in1.data.rooms import CLASSES
from diff2in1.fileio import write_json, write_text
from diff2in1.metrics.segmentation import confusion_matrix
from diff2in1.perception.checkpoint import load_perception
from diff2in1.perception.splits import features_of, to_device
from diff2in1.training.head_training import HeadTraining
from diff2in1.training.samples import load_all
from diff2in1.training.warmup import train_warmup
from diff2in1.workflow.run import load_run_config, stage_configs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from self_improve import COMMIT, machine, seed_config  # noqa: E402


def class_scores(run: Path, config) -> dict:
    trainer = HeadTraining(replace(config, eval_split="unlabelled"), run)
    model = load_perception(run / "checkpoint")[0].eval()
    batch = to_device(load_all(trainer.eval_set), trainer.backbone.device)
    confusion = torch.zeros(len(CLASSES), len(CLASSES), dtype=torch.long)
    with torch.no_grad():
        for start in range(0, len(batch["image"]), 32):
            part = {k: v[start : start + 32] for k, v in batch.items() if torch.is_tensor(v)}
            preds = model(features_of(trainer.backbone, part), tuple(part["image"].shape[-2:]))
            confusion += confusion_matrix(preds["semseg"]["semseg"], part["semseg"], len(CLASSES)).cpu()
    hits, union = confusion.diag().float(), (confusion.sum(0) + confusion.sum(1) - confusion.diag()).float()
    labelled = load_all(trainer.train_set)["semseg"]
    share = torch.bincount(labelled[labelled < len(CLASSES)].flatten(), minlength=len(CLASSES)).float()
    return {"iou": {c: float(h / u) if u else None for c, h, u in zip(CLASSES, hits, union)},
            "train_share": {c: float(s / share.sum()) for c, s in zip(CLASSES, share)},
            "miou": float((hits / union.clamp_min(1))[union > 0].mean()),
            "pixel_acc": float(hits.sum() / confusion.sum())}


def bench_warmups(args: argparse.Namespace) -> dict:
    """Per-class scores of the benchmark's finished warm-ups, as it configured them (self_improve.seed_config)."""
    results = {}
    for labelled in args.labelled:
        for seed in args.bench_seeds:
            warmup = replace(stage_configs(seed_config(Path(args.bench), labelled, seed))[0],
                             cache_dir=str(Path(args.bench) / "features"))
            if (Path(warmup.out) / "metrics.json").is_file():
                results[f"L{labelled}_s{seed}"] = class_scores(Path(warmup.out), warmup)
                print(labelled, seed, results[f"L{labelled}_s{seed}"], flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelled", type=int, nargs="+", default=[100, 800])
    parser.add_argument("--steps", type=int, nargs="+", default=[1500, 4500])
    parser.add_argument("--work", default=str(Path.home() / ".cache/diff2in1/docs/segmentation_classes"))
    parser.add_argument("--bench", default=str(Path.home() / ".cache/diff2in1/bench/self_improve_v2"))
    parser.add_argument("--bench-seeds", type=int, nargs="*", default=[],
                        help="score the benchmark's warm-ups of these seeds (bench/self_improve.py) instead")
    parser.add_argument("--train-labelled", type=int, nargs="*", default=None,
                        help="label counts to train warm-ups for (default: --labelled, none with --bench-seeds)")
    args = parser.parse_args(argv)
    args.data = str(Path(args.bench) / "rooms")
    results = bench_warmups(args) if args.bench_seeds else {}
    train = args.train_labelled if args.train_labelled is not None else ([] if args.bench_seeds else args.labelled)
    features = {"cache_dir": str(Path(args.bench) / "features"), "cache_storage": "disk"} if args.bench_seeds else \
        {"cache_dir": str(Path(args.work).parent / "features")}
    for labelled in train:
        for steps in args.steps:
            settings = Path(__file__).parents[2] / "bench" / "self_improve.yaml"
            base = load_run_config(settings, out=str(Path(args.work) / f"L{labelled}_steps{steps}"))
            base.shared.update({"num_labelled": labelled, "data": args.data, "progress": False})
            warmup = replace(stage_configs(base)[0], steps=steps, eval_split="unlabelled", **features)
            if not (Path(warmup.out) / "metrics.json").is_file():
                train_warmup(warmup)
            results[f"L{labelled}_steps{steps}"] = class_scores(Path(warmup.out), warmup)
            print(labelled, steps, results[f"L{labelled}_steps{steps}"], flush=True)
    out = Path(__file__).parent
    command = "python docs/perception/measure_segmentation_classes.py " + " ".join(argv or sys.argv[1:])
    write_json(out / "segmentation_classes.json", {"command": command, "git_commit": COMMIT, "machine": machine(),
                                                   "results": results})
    lines = [f"# Segmentation per class (validation split)\n\nCommand: `{command}`; commit `{COMMIT}`; {machine()}.\n",
             "| run | mIoU | pixel acc | " + " | ".join(CLASSES) + " |", "|---|---|---|" + "---|" * len(CLASSES)]
    for name, r in results.items():
        cells = [f"{r['iou'][c]:.3f} ({r['train_share'][c]:.1%})" if r["iou"][c] is not None else "–" for c in CLASSES]
        lines.append(f"| {name} | {r['miou']:.4f} | {r['pixel_acc']:.4f} | " + " | ".join(cells) + " |")
    lines.append("\nEach class cell: IoU (share of the labelled training pixels).")
    write_text(out / "segmentation_classes.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
