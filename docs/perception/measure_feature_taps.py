"""Which UNet blocks should feed the heads? The release's taps against this project's, on the bench's warm-ups.

    python docs/perception/measure_feature_taps.py [--labelled 100] [--seeds 0 1 2]

`--feature-taps decoder` (every up block, this project's default) against `--feature-taps release` (every
down block, the middle block and every up block, as the official release reads them). For each seed, the
warm-up of bench/self_improve.py (its labelled subset, 1500 steps) is the decoder arm; the release arm is the
same warm-up with the release's taps, under the bench's work folder (`L{n}/s{seed}/warmup_release_taps`,
resumable). Both are scored as the bench scores them (validation and test, with and without flip
averaging); differences are paired by seed. Writes docs/perception/feature_taps.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from diff2in1.fileio import read_json, write_json, write_text  # noqa: E402
from diff2in1.training.warmup import train_warmup  # noqa: E402
from diff2in1.workflow.run import stage_configs  # noqa: E402
from self_improve import COMMIT, machine, score_arm, seed_config  # noqa: E402

HEADLINE = (("normal", "mean"), ("depth", "abs_rel"), ("semseg", "miou"))
OUT = Path(__file__).resolve().parent


def scored_warmups(work: Path, labelled: int, seed: int) -> dict[str, dict]:
    """{taps: scores.json} of the decoder warm-up (the bench's) and the release one (made here when missing)."""
    warmup, _, improve = stage_configs(seed_config(work, labelled, seed))
    features = str(work / "features")
    out = {}
    for taps, run in (("decoder", Path(warmup.out)), ("release", Path(warmup.out).parent / "warmup_release_taps")):
        config = replace(warmup, out=str(run), feature_taps=taps, cache_dir=features)
        if not (run / "metrics.json").is_file():
            print(f"L{labelled} s{seed}: warm-up with the {taps} taps", file=sys.stderr, flush=True)
            train_warmup(replace(config, resume=(run / "train_state").exists()))
        score_arm(run, replace(improve, cache_dir=features, feature_taps=taps), warmup=True)
        out[taps] = read_json(run / "scores.json")
    return out


def paired_rows(per_seed: dict[int, dict]) -> list[dict]:
    """Release − decoder per split, mode and headline metric: mean, std over seeds, seeds where release wins."""
    rows = []
    for split in ("test", "val"):
        for mode in ("theta_e_tta", "theta_e"):
            for task, metric in HEADLINE:
                deltas = [s["release"][split][mode][task][metric] - s["decoder"][split][mode][task][metric]
                          for s in per_seed.values()]
                means = {taps: statistics.fmean(s[taps][split][mode][task][metric] for s in per_seed.values())
                         for taps in ("decoder", "release")}
                wins = sum((d > 0) if metric == "miou" else (d < 0) for d in deltas)
                rows.append({"split": split, "mode": "tta" if mode.endswith("tta") else "plain",
                             "metric": f"{task}.{metric}", **means, "delta": statistics.fmean(deltas),
                             "std": statistics.stdev(deltas) if len(deltas) > 1 else 0.0, "release_wins": wins})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelled", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", default=str(Path.home() / ".cache" / "diff2in1" / "bench" / "self_improve_v2"))
    args = parser.parse_args(argv)
    per_seed = {seed: scored_warmups(Path(args.work), args.labelled, seed) for seed in args.seeds}
    rows = paired_rows(per_seed)
    command = "python docs/perception/measure_feature_taps.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json(OUT / "feature_taps.json", {"command": command, "git_commit": COMMIT, "machine": machine(),
                                           "labelled": args.labelled, "seeds": args.seeds, "paired": rows,
                                           "per_seed": {str(k): v for k, v in per_seed.items()}})
    lines = ["# Feature taps: the release's blocks against the decoder blocks (warm-ups, θE)", "",
             f"Command: `{command}`; commit `{COMMIT}`; machine: {machine()}. {args.labelled} labels, seeds "
             f"{args.seeds}, 1500 warm-up steps each, the bench's labelled subsets. Δ = release − decoder, paired "
             "by seed (negative is better for errors); wins: seeds where the release's taps are better.", "",
             "| split | flip averaging | metric | decoder | release | Δ | wins |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['split']} | {'yes' if r['mode'] == 'tta' else 'no'} | {r['metric']} | {r['decoder']:.4f} | "
                     f"{r['release']:.4f} | {r['delta']:+.4f} ± {r['std']:.4f} | {r['release_wins']}/{len(args.seeds)} |")
    write_text(OUT / "feature_taps.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
