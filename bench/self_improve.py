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
manifest's results folder, else bench/results). self_improve_runs.json is also the record that outlives the
work folder: a new machine's runs join the ones it holds, a seed's stored arms only where that seed's new
warm-up scores as the stored one did (else they are kept aside under runs_left_out), so that every paired
difference still starts from one warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from diff2in1.cli.run import demo_config_path
from diff2in1.fileio import read_json, write_json
from diff2in1.workflow.run import load_run_config, stage_configs
from self_improve_arms import (
    ARMS,
    BENCH_IMPROVE,
    DEMO_ARM,
    EXTRA_HEADS,
    POOL_SIZE,
    STAGE2_STEPS,
    TEACHER_EVERY,
    created_pool_steps,
    created_set,
    heads_in,
    heads_key,
    heads_wanted,
    is_reference,
    with_prerequisites,
)
from self_improve_matched import Budget, matched_control, matched_oracle
from self_improve_prereg import MANIFEST, preregistered_arms, read_manifest
from self_improve_tables import Pairing, collect, merge_made_by, merge_stored, write_demo_spread, write_tables


@dataclass(frozen=True)
class Source:
    """The data and backbone the benchmark runs on: by default rooms generated in the work folder and the
    demo's backbone; else a data set (reader name and folder) and a diffusion model of the user's. ``config``:
    the run YAML whose settings the arms start from (default: the demo's)."""
    dataset: str = "rooms"
    data: str = ""
    backbone: str = ""
    config: str = ""

    @property
    def generated(self) -> bool:
        return self.dataset == "rooms" and not self.data


ROOMS = Source()


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, {platform.python_version()}"


def read_git_commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True, cwd=Path(__file__).parent).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


COMMIT = read_git_commit()  # the code this process runs, whatever the tree holds by the time a stage starts


def seed_config(work: Path, labelled: int, seed: int, source: Source = ROOMS):
    """The demo's run config for one (labelled, seed): its own labelled subset, validation for evaluation."""
    base = load_run_config(source.config or demo_config_path(), out=str(work / f"L{labelled}" / f"s{seed}"))
    data = str(work / "rooms") if source.generated else source.data
    base.shared.update({"num_labelled": labelled, "labelled_seed": seed, "seed": seed, "data": data,
                        "dataset": source.dataset, "progress": False, "eval_split": "unlabelled",
                        "val_fraction": 0.0})  # every label trains; validation is the unlabelled split
    if source.backbone:
        base.shared["backbone"] = source.backbone
    if not source.generated:
        base.rooms = {}
    return base


def budget_of(base) -> Budget:
    """The defaults an arm's settings override, from the run config the benchmark starts from."""
    warmup, _, improve = stage_configs(base)
    return Budget(stage_steps=STAGE2_STEPS, batch_size=improve.batch_size, pseudo_batch_size=improve.pseudo_batch_size,
                  warmup_steps=warmup.steps)


def arm_registry(budget: Budget) -> dict[str, dict]:
    """Every arm the benchmark can run: ARMS, each one's matched control, and each arm's matched oracle."""
    out = dict(ARMS)
    for name, settings in ARMS.items():
        if is_reference(name):
            continue
        out.setdefault(*matched_control(settings, budget))
        if settings.get("synthetic") or settings.get("unlabelled"):
            out.setdefault(*matched_oracle(settings, budget))
    return out


def extra_warmup_config(work: Path, labelled: int, seed: int, k: int, steps: int | None = None, source: Source = ROOMS):
    """The warm-up of (labelled, seed) again with training seed 100 + k: the same labels, another head
    (`steps` long instead of the warm-up's, in a folder of its own, when given)."""
    warmup = stage_configs(seed_config(work, labelled, seed, source))[0]
    name = f"warmup_k{k}" if steps is None else f"warmup_k{k}_steps{steps}"
    return replace(warmup, seed=100 + k, steps=steps or warmup.steps, out=str(Path(warmup.out).parent / name),
                   cache_dir=str(work / "features"), cache_storage=BENCH_IMPROVE["cache_storage"])


def extra_warmups(work: Path, labelled: int, seed: int, count: int = EXTRA_HEADS, steps: int | None = None,
                  source: Source = ROOMS) -> list[str]:
    """Checkpoints of the first `count` extra warm-ups of (labelled, seed), trained where missing."""
    from diff2in1.training.warmup import train_warmup

    paths = []
    for k in range(1, count + 1):
        config = extra_warmup_config(work, labelled, seed, k, steps, source)
        if not (Path(config.out) / "metrics.json").is_file():
            record_made_by(Path(config.out))
            train_warmup(config)
        paths.append(str(Path(config.out) / "checkpoint"))
    return paths


def record_made_by(run: Path) -> None:
    """RUN/made_by.json: the command and git commit a stage was trained with (kept when it resumes)."""
    target = run / "made_by.json"
    if not target.is_file():
        write_json(target, {"command": "python bench/self_improve.py " + " ".join(sys.argv[1:]),
                            "git_commit": COMMIT, "machine": machine()})


def base_paths(work: Path, base, source: Source) -> dict:
    """The placeholders every arm of one (labelled, seed) may name: the pool (photos, and the same photos
    with labels for oracles) and the control's end."""
    from self_improve_data import make_rooms, pool_photos

    warmup = stage_configs(base)[0]
    if source.generated:
        _, pool = make_rooms(work, base.rooms)
        photos, truth = pool, pool
    else:
        photos, truth = pool_photos(warmup, Path(base.out) / "pool_photos"), "split"
    return {"pool": photos, "pool_truth": truth, "control": str(Path(base.out) / "control" / "checkpoint")}


def prepare_inputs(settings: dict, paths: dict, work: Path, base, source: Source) -> None:
    """Make what an arm's placeholders name and ``paths`` lacks: created sets, extra heads, the labelled
    images as a folder."""
    from diff2in1.creation import create_dataset

    warmup, create, _ = stage_configs(base)
    checkpoint = str(Path(warmup.out) / "checkpoint")
    created = created_set(settings.get("synthetic", ""), create.steps)
    if created and created[0] not in paths:  # each seed its own set, from its own warm-up
        folder, origin, steps = created
        paths[folder] = str(Path(base.out) / folder)
        from_pool = {"data": paths["pool"], "dataset": create.dataset if source.generated else "folder",
                     "num_labelled": 0} if origin == "pool" else {}
        create_dataset(replace(create, out=paths[folder], checkpoint=checkpoint, steps=steps, progress=False,
                               **from_pool))
    if "{labelled_images}" in settings.values() and "labelled_images" not in paths:
        from self_improve_data import labelled_images

        paths["labelled_images"] = labelled_images(warmup, Path(base.out) / "labelled_images")
    count, steps = heads_wanted(settings)
    if count and len(paths.get(heads_key(steps), [])) < count:
        paths[heads_key(steps)] = extra_warmups(work, warmup.num_labelled, warmup.labelled_seed, count, steps, source)


def fill_paths(value, paths: dict):
    """An arm's setting with its {placeholders} filled; a heads placeholder becomes a list of extra heads."""
    count, steps = heads_in(value)
    if count:
        return paths[heads_key(steps)][:count]
    return value.format(**paths) if isinstance(value, str) else value


def arm_overrides(settings: dict, paths: dict) -> dict:
    """The arm's improve options, placeholders filled; an oracle reads the pool with its labels."""
    if settings.get("unlabelled_labels") == "ground_truth" and settings.get("unlabelled") == "{pool}":
        settings = {**settings, "unlabelled": "{pool_truth}"}
    return {k: fill_paths(v, paths) for k, v in settings.items()}


def one_seed(work: Path, labelled: int, seed: int, arms: tuple[str, ...], source: Source = ROOMS) -> None:
    from diff2in1.self_improving.improve import train_improve
    from diff2in1.training.warmup import train_warmup

    base = seed_config(work, labelled, seed, source)
    if source.generated:
        from self_improve_data import make_rooms

        make_rooms(work, base.rooms)
    warmup, _, improve = stage_configs(base)
    features = str(work / "features")  # a frozen backbone's features depend only on the image and view
    warmup = replace(warmup, cache_dir=features, cache_storage=BENCH_IMPROVE["cache_storage"])
    if not (Path(warmup.out) / "metrics.json").is_file():
        record_made_by(Path(warmup.out))
        train_warmup(warmup)
    registry = arm_registry(budget_of(base))
    paths = base_paths(work, base, source)
    for name in with_prerequisites(arms, registry):
        prepare_inputs(registry[name], paths, work, base, source)
        config = replace(improve, **{**BENCH_IMPROVE, "cache_dir": features, "out": str(Path(base.out) / name),
                                     "teacher_every": 1 if name == "release" else TEACHER_EVERY,
                                     **arm_overrides(registry[name], paths)})
        if not (Path(config.out) / "metrics.json").is_file():
            print(f"L{labelled} s{seed}: {name}", file=sys.stderr, flush=True)
            record_made_by(Path(config.out))
            train_improve(replace(config, resume=(Path(config.out) / "train_state").exists()))
        score_arm(Path(config.out), config)
    score_arm(Path(warmup.out), replace(improve, cache_dir=features), warmup=True)


def creation_calls(base) -> dict[str, dict[str, int]]:
    """{arm: {schedule_steps, unet_calls}} of the arms on created pools: UNet calls per created image."""
    from diff2in1.perception.ddim import denoising_timesteps
    from diff2in1.perception.splits import open_backbone

    create = stage_configs(base)[1]
    backbone = open_backbone(base.shared["backbone"])
    out = {}
    for arm, settings in ARMS.items():
        created = created_pool_steps(settings.get("synthetic", ""), create.steps)
        if created:
            calls = len(denoising_timesteps(backbone.set_inference_steps(created[1]), create.t_star))
            out[arm] = {"schedule_steps": created[1], "unet_calls": calls}
    return out


def score_warmup(work: Path, labelled: int, seed: int, source: Source = ROOMS) -> None:
    """Score a finished warm-up of (labelled, seed) that has no scores.json yet (for a partial table)."""
    warmup, _, improve = stage_configs(seed_config(work, labelled, seed, source))
    if (Path(warmup.out) / "metrics.json").is_file():
        score_arm(Path(warmup.out), replace(improve, cache_dir=str(work / "features")), warmup=True)


def score_arm(run: Path, config, warmup: bool = False) -> None:
    """θE and θC on validation and test, with and without flip averaging: RUN/scores.json."""
    target = run / "scores.json"
    if target.is_file():
        return
    from diff2in1.perception.checkpoint import load_perception
    from diff2in1.self_improving.improve import make_store
    from diff2in1.self_improving.view_eval import evaluate_views
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.samples import open_samples
    from diff2in1.training.warmup import HeadTraining

    scores = {}
    for split in ("unlabelled", "test"):
        trainer = HeadTraining(replace(config, eval_split=split), run)
        models = {"theta_e": load_perception(run / "checkpoint", which="model")[0]}
        if not warmup:
            models["theta_c"] = load_perception(run / "checkpoint", which="creation")[0]
        store = make_store(trainer.backbone, open_samples(trainer.eval_set, in_memory=True), ViewBank(2), config)
        scores["val" if split == "unlabelled" else split] = evaluate_views(models, store, trainer.num_classes)
    write_json(target, scores)


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


def pairing(registry: dict[str, dict], budget: Budget, manifest: dict | None) -> Pairing:
    """Each arm's matched control and oracle, and the arms the manifest registered (None: no manifest)."""
    controls, oracles = {}, {}
    for name, settings in registry.items():
        if not is_reference(name):
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
            "the validation split", "settings": source.config or demo_config_path().name, "work": str(work),
            "data": {"dataset": source.dataset, "data": base.shared["data"], "backbone": base.shared["backbone"]},
            "manifest": args.manifest or None, "runs_made_by": runs_made_by, "runs_from_earlier_results": kept,
            "creation_calls": creation_calls(base)}
    left_out = {**stored.get("runs_left_out", {}), **{run: _stored_run(stored["runs"], run) for run in dropped}}
    write_json(runs_file, {**meta, "runs": runs, **({"runs_left_out": left_out} if left_out else {})})
    write_tables(runs, Path(args.results), meta, pairing(registry, budget, manifest))
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
    parser.add_argument("--config", default="", help="run YAML the arms start from (default: the demo's, "
                        "configs/demo.yaml; the benchmark's stage settings and each arm's override it)")
    parser.add_argument("--work", default=None, help="work folder (default ~/.cache/diff2in1/bench/"
                        "self_improve_v2, or self_improve_DATASET on other data)")
    parser.add_argument("--results", default=None, help="default: the manifest's results folder, else bench/results")
    parser.add_argument("--collect-only", action="store_true", help="tabulate what has finished so far")
    args = parser.parse_args(argv)
    manifest = read_manifest(Path(args.manifest)) if args.manifest else None
    args.labelled = args.labelled or ([int(n) for n in manifest["labelled"]] if manifest else [100])
    args.seeds = args.seeds or (manifest["seeds"] if manifest else [0, 1, 2])
    args.results = args.results or (manifest["results"] if manifest else "bench/results")
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
