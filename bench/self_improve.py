"""Does self-improvement beat a matched-compute control? Few labels, a pool of unlabelled photos, paired seeds.

    python bench/self_improve.py --labelled 100 --seeds 0        # one process per seed, resumable
    python bench/self_improve.py --labelled 100 --seeds 0 1 2 3 4 --collect-only
    python bench/self_improve.py --dataset nyuv2 --data /data/nyuv2 --backbone /models/sd15 --labelled 100 --seeds 0

The arms, label counts and seeds of a round are those of its pre-registration manifest (--manifest; round 3:
bench/preregistered/self_improve-round3.json, written by bench/self_improve_prereg.py before any of its
results existed). --arms runs others too; the tables mark them ``preregistered: false`` (post hoc) and never
choose one as best. Arms are defined in self_improve_arms.py, their matched-compute controls and oracles
derived in self_improve_matched.py.

Each seed has its own labelled subset (labelled_seed = seed) and its own warm-up; every arm starts from it.
On the default data (rooms generated in the work folder, the shipped rooms64 backbone) the unlabelled pool
is 500 other rooms; with --dataset/--data it is the training images outside the labelled subset and the
validation split (self_improve_data.py), and --backbone names the diffusion model (a diffusers folder, a hub
id or a single file). θC's targets for the pool are refreshed every TEACHER_EVERY steps (every step in the
release arm). Every arm's θE and θC are scored on the validation split (up to 250 training images outside the
labelled set) and on test, each with and without flip averaging. Choices (which arm is "best", which head)
use validation.
Results: RESULTS/self_improve.{json,md} and per-run values in RESULTS/self_improve_runs.json (RESULTS: the
manifest's results folder, else bench/results; with -DATASET appended on a user's data set). --controls
same-step pairs arms as rounds 1 and 2 did (their tables: --manifest '' --controls same-step). self_improve_runs.json is also the record that outlives the
work folder: a new machine's runs join the ones it holds, a seed's stored arms only where that seed's new
warm-up scores as the stored one did (else they are kept aside under runs_left_out), so that every paired
difference still starts from one warm-up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diff2in1.fileio import read_json, write_json
from self_improve_arms import DEMO_ARM, POOL_SIZE, STAGE2_STEPS, TEACHER_EVERY, is_reference
from self_improve_matched import Budget, matched_control, matched_oracle
from self_improve_prereg import MANIFEST, preregistered_arms, read_manifest
from self_improve_report import write_tables
from self_improve_runner import (
    COMMIT,
    ROOMS,
    SETTINGS,
    Source,
    arm_registry,
    budget_of,
    creation_calls,
    machine,
    one_seed,
    score_warmup,
    seed_config,
)
from self_improve_tables import Pairing, collect, merge_made_by, merge_stored, write_demo_spread

# Runs trained before stages recorded RUN/made_by.json, as the session's log and git history show them.
EARLIER_RUNS = {"warmup": "344f2a3 (seeds 0, 1) and d103f4e (seed 2)", "arms": "71f5174"}


def made_by(work: Path) -> dict:
    """Per (labelled, seed, stage): the command and commit each run was trained with."""
    out: dict = {}
    if any(not (run.parent / "made_by.json").is_file() for run in work.glob("L*/s*/*/metrics.json")):
        out["before_made_by_json"] = {**EARLIER_RUNS, "command": "python bench/self_improve.py --labelled 100 "
                                      "--seeds S (one process per seed)"}
    for path in sorted(work.glob("L*/s*/*/made_by.json")):
        out["/".join(path.parent.parts[-3:])] = read_json(path)
    return out


def pairing(registry: dict[str, dict], budget: Budget, manifest: dict | None, matched: bool = True) -> Pairing:
    """Each arm's matched control and oracle (``matched``; else the same-step ones of rounds 1 and 2), and
    the arms the manifest registered (None: no manifest)."""
    controls, oracles = {}, {}
    for name, settings in registry.items():
        if matched and not is_reference(name):
            controls[name] = matched_control(settings, budget)[0]
            if settings.get("synthetic") or settings.get("unlabelled"):
                oracles[name] = matched_oracle(settings, budget)[0]
                controls.setdefault(oracles[name], controls[name])  # the oracle has the arm's budget
    registered = preregistered_arms(manifest, registry) if manifest else None
    return Pairing(controls=controls, oracles=oracles, preregistered=registered)


def write_results(work: Path, args: argparse.Namespace, argv: list[str] | None, source: Source,
                  manifest: dict | None) -> None:
    """Tables of the work folder's runs and of those the results file already holds (the work folder may be
    a new machine's, with only some of them)."""
    base = seed_config(work, args.labelled[0], 0, source)
    budget = budget_of(base)
    registry = arm_registry(budget)
    runs_file = Path(args.results) / "self_improve_runs.json"
    stored = read_json(runs_file) if runs_file.is_file() else {}
    runs, kept, dropped = merge_stored(collect(work, args.labelled, args.seeds, ["warmup", *registry]),
                                       stored.get("runs", {}))
    if dropped:
        print(f"{runs_file}: not pairable with this work folder's warm-ups, kept aside under runs_left_out: "
              f"{', '.join(dropped)}", file=sys.stderr)
    runs_made_by = merge_made_by(made_by(work), stored.get("runs_made_by", {}), kept)
    meta = {"command": "python bench/self_improve.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "git_commit": COMMIT, "machine": machine(), "stage2_steps": STAGE2_STEPS, "teacher_every": TEACHER_EVERY,
            "pool_size": POOL_SIZE if source.generated else "the training images outside the labelled ones and "
            "the validation split", "settings": source.config or SETTINGS.name, "work": str(work),
            "data": {"dataset": source.dataset, "data": base.shared["data"], "backbone": base.shared["backbone"]},
            "manifest": args.manifest or None, "controls": args.controls, "runs_made_by": runs_made_by, "runs_from_earlier_results": kept,
            "creation_calls": creation_calls(base)}
    left_out = {**stored.get("runs_left_out", {}), **{run: _stored_run(stored["runs"], run) for run in dropped}}
    write_json(runs_file, {**meta, "runs": runs, **({"runs_left_out": left_out} if left_out else {})})
    write_tables(runs, Path(args.results), meta, pairing(registry, budget, manifest, args.controls == "matched"))
    if source == ROOMS:  # the demo's report colours a change against the control only beyond this spread
        write_demo_spread(runs, DEMO_ARM, Path(__file__).parents[1] / "src/diff2in1/report/demo_spread.json", meta)


def _stored_run(runs: dict, run: str) -> dict:
    count, seed, arm = run.split("/")
    return runs[count.removeprefix("L")][seed.removeprefix("s")][arm]


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, dict | None]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelled", type=int, nargs="+", default=None, help="default: the manifest's label counts")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the manifest's seeds")
    parser.add_argument("--arms", nargs="+", default=None, help="default: the manifest's arms at each label count")
    parser.add_argument("--manifest", default=str(MANIFEST), help="pre-registration manifest ('' = none: every "
                        "arm counts as registered, as before round 3)")
    parser.add_argument("--dataset", default="rooms", help="data-set reader (as `diff2in1 warmup --dataset`)")
    parser.add_argument("--data", default="", help="data-set folder (default: rooms generated in the work folder)")
    parser.add_argument("--backbone", default="", help="diffusion model: a diffusers folder, a hub id or a single "
                        "file (default: the demo's)")
    parser.add_argument("--config", default="", help="run YAML the arms start from (default: "
                        "bench/self_improve.yaml; the benchmark's stage settings and each arm's override it)")
    parser.add_argument("--work", default=None, help="work folder (default ~/.cache/diff2in1/bench/"
                        "self_improve_v2, or self_improve_DATASET on other data)")
    parser.add_argument("--results", default=None, help="default: the manifest's results folder, else bench/results")
    parser.add_argument("--controls", default="matched", choices=["matched", "same-step"],
                        help="pair each arm with its matched-compute control and oracle (round 3 on), or with the "
                        "same-step ones (rounds 1 and 2: --manifest '' --controls same-step --results bench/results)")
    parser.add_argument("--collect-only", action="store_true", help="tabulate what has finished so far")
    args = parser.parse_args(argv)
    manifest = read_manifest(Path(args.manifest)) if args.manifest else None
    args.labelled = args.labelled or ([int(n) for n in manifest["labelled"]] if manifest else [100])
    args.seeds = args.seeds or (manifest["seeds"] if manifest else [0, 1, 2])
    if not args.results:  # another data set's runs never pair with the rooms' stored ones
        args.results = (manifest["results"] if manifest else "bench/results") + \
            ("" if args.dataset == "rooms" and not args.data else f"-{args.dataset}")
    name = "self_improve_v2" if args.dataset == "rooms" and not args.data else f"self_improve_{args.dataset}"
    args.work = args.work or str(Path.home() / ".cache" / "diff2in1" / "bench" / name)
    return args, manifest


def arms_at(labelled: int, args: argparse.Namespace, manifest: dict | None, known: dict) -> tuple[str, ...]:
    """The arms to run at one label count: --arms, else the manifest's."""
    if args.arms:
        arms = tuple(args.arms)
    elif manifest and str(labelled) in manifest["labelled"]:
        arms = tuple(manifest["labelled"][str(labelled)])
    else:
        raise SystemExit(f"no arms at {labelled} labels: pass --arms, or a manifest that lists them")
    unknown = sorted(set(arms) - set(known))
    if unknown:
        raise SystemExit(f"unknown arms {unknown}; known: {sorted(known)}")
    return arms


def main(argv: list[str] | None = None) -> int:
    args, manifest = parse_args(argv)
    work, source = Path(args.work), Source(args.dataset, args.data, args.backbone, args.config)
    for labelled in args.labelled:
        if args.collect_only:
            for seed in args.seeds:
                score_warmup(work, labelled, seed, source)
            continue
        arms = arms_at(labelled, args, manifest, arm_registry(budget_of(seed_config(work, labelled, 0, source))))
        for seed in args.seeds:
            one_seed(work, labelled, seed, arms, source)
    write_results(work, args, argv, source, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
