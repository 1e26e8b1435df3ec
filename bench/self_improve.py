"""Does self-improvement beat a fair control? Rooms, few labels, a pool of unlabelled rooms, paired seeds.

    python bench/self_improve.py --labelled 100 --seeds 0        # one process per seed, resumable
    python bench/self_improve.py --labelled 100 --seeds 0 1 2 --collect-only

Each seed has its own labelled subset (labelled_seed = seed) and its own warm-up; every arm starts from it
and runs the same number of stage-2 steps with the same views (augmentation) of the real images:
  control        real only, 8 per step, same EMA and views as the student
  unlabelled     8 real + 8 real unlabelled images of the pool labelled by θC (the semi-supervised baseline)
  oracle         8 real + 8 pool images with their ground truth (the ceiling)
  created_pool   8 real + 8 created from the unlabelled pool's images (each seed its own set), θC's soft targets
  created_pool_weighted  the same with the best teacher (image and mirror weighted 5:1 over each crop)
  created_pool_weighted_stepsN  the same on images created with an N-step DDIM schedule (the creation cost)
  unlabelled_shifts  the pool labelled by θC averaging the image, its mirror and their 8 shifted views
  unlabelled_heads   the pool labelled by θC averaged with 3 heads warmed up on the same labels from other
                     seeds (warmup_k1..3: a deep-ensemble teacher); created_pool_heads on created images
  created        8 real + 8 created from the labelled images (the paper's data)
  release        the official release's stage 2 (--preset release) on images created from the labelled ones
  control16      real only, 16 per step (as many images per step as the arms with pseudo-labels)
  control_long   the control continued for 4500 more steps (as many as the extra heads' warm-ups)
  created_pool_head1_long  control_long's compute spent on the teacher and the stage: one extra head (1500
                 steps) and a 4500-step stage on created images; paired with control_long
  created_pool_heads3x1000_long  the same compute on three extra heads of 1000 steps and a 3000-step stage
  created_pool_heads3x1000_p16_long  that arm with 16 created images per step
  created_pool_heads6_geometry  created_pool_heads_geometry with five extra heads in the teacher, not three
  created_pool_heads_geometry_p16  created_pool_heads_geometry with 16 created images per step beside 8 real
  created_pool_heads_geometry_p16_stepsN  the same on images created with an N-step DDIM schedule (its cost)
  *_round2       a second stage from the control's end: control_round2 (real only, the fair control),
                 unlabelled_weighted_round2, oracle_round2
θC's targets for the pool are refreshed every TEACHER_EVERY steps (every step in the release arm).
Every arm's θE and θC are scored on the validation split (250 training images outside the labelled set) and
on test, each with and without flip averaging. Choices (which arm is "best", which head) use validation.
Results: bench/results/self_improve.{json,md}; per-run values in bench/results/self_improve_runs.json (the earlier
set, view teachers, in bench/results/view_teacher/).
self_improve_runs.json is also the record that outlives the work folder: a new machine's runs join the ones it
holds, a seed's stored arms only where that seed's new warm-up scores as the stored one did (else they are
kept aside under runs_left_out), so that every paired difference still starts from one warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from diff2in1.cli.run import demo_config_path
from diff2in1.fileio import read_json, write_json
from diff2in1.self_improving.config import ImproveConfig
from diff2in1.workflow.run import load_run_config, stage_configs
from self_improve_tables import collect, merge_made_by, merge_stored, write_demo_spread, write_tables

POOL_SIZE = 500
STAGE2_STEPS = 1500  # 3x the EMA horizon 1 / (1 - 0.998) and as long as the warm-up
ARMS = {  # in the order they run: the comparisons that matter most first
    "control": {"pseudo_batch_size": 0, "synthetic": ""},
    "unlabelled": {"synthetic": "", "unlabelled": "{pool}"},
    "oracle": {"synthetic": "", "unlabelled": "{pool}", "unlabelled_labels": "ground_truth"},
    "created_pool": {"synthetic": "{created_pool}"},
    "created": {"synthetic": "{created_labelled}"},
    "release": {"preset": "release", "synthetic": "{created_labelled}"},
    "control16": {"pseudo_batch_size": 0, "synthetic": "", "batch_size": 16},
    # trials on validation: segmentation targets only where θC is sure (FixMatch's threshold); θC averaging
    # the image and its mirror only (bench/teacher_views.py: the crops make the warm-up's targets worse)
    "unlabelled_tau": {"synthetic": "", "unlabelled": "{pool}", "semseg_threshold": 0.9},
    "unlabelled_flip": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip"},
    # every view, the image and its mirror weighted 5:1 over each crop (the diagnostic's one lead)
    "unlabelled_weighted": {"synthetic": "", "unlabelled": "{pool}", "teacher_flip_weight": 5.0},
    # the two leads together: the weighted teacher for normals and depth, the threshold for segmentation
    "unlabelled_weighted_tau": {"synthetic": "", "unlabelled": "{pool}", "teacher_flip_weight": 5.0,
                                "semseg_threshold": 0.9},
    # a teacher whose extra views keep the camera: the image and its mirror, each also shifted by 2 pixels in
    # four diagonal directions (bench/teacher_views.py: better than 4 or 8 on validation), alone and with the
    # segmentation threshold
    "unlabelled_shifts": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip_shifts"},
    "unlabelled_shifts_tau": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip_shifts",
                              "semseg_threshold": 0.9},
    # a deep ensemble for a teacher: θC averaged with EXTRA_HEADS heads warmed up on the same labels from other
    # seeds (bench/teacher_views.py's head ensemble: 4 heads with flip averaging label 0.7° better than one)
    "unlabelled_heads": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip", "teacher_heads": "{heads}"},
    "created_pool_heads": {"synthetic": "{created_pool_steps5}", "teacher_views": "flip", "teacher_heads": "{heads}"},
    # the same, θC's targets for normals and depth only: its soft classes cost mIoU in every arm (rare classes)
    "unlabelled_heads_geometry": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip",
                                  "teacher_heads": "{heads}", "pseudo_tasks": ["normal", "depth"]},
    "created_pool_heads_geometry": {"synthetic": "{created_pool_steps5}", "teacher_views": "flip",
                                    "teacher_heads": "{heads}", "pseudo_tasks": ["normal", "depth"]},
    # Diff-2-in-1 proper with the shift teacher: images created from the pool's photos (5-step schedule, 4 UNet
    # calls each: at 25 labels as good as 16) instead of the photos
    "created_pool_shifts": {"synthetic": "{created_pool_steps5}", "teacher_views": "flip_shifts"},
    "created_pool_shifts_tau": {"synthetic": "{created_pool_steps5}", "teacher_views": "flip_shifts",
                                "semseg_threshold": 0.9},
    # Diff-2-in-1 proper with the best teacher: images created from the pool's photos instead of the photos
    "created_pool_weighted": {"synthetic": "{created_pool}", "teacher_flip_weight": 5.0},
}
# The creation-cost sweep: the same arm on images created with shorter DDIM schedules (the demo's is 25
# steps, 16 UNet calls per image at t* = 600; 5 steps make 4 calls, 10 make 7).
CREATION_SWEEP = (5, 10)
ARMS.update({f"created_pool_weighted_steps{n}": {"synthetic": f"{{created_pool_steps{n}}}", "teacher_flip_weight": 5.0}
             for n in CREATION_SWEEP})
# A second round: the same stage again from the control's end, when θC has trained on the labels for a whole
# stage (the warm-up's θC is what the control improves on by 0.3°; it labels the pool for the first 300
# steps). Its fair control is the control run again from the same start, and its ceiling the oracle likewise.
ROUND2 = {"control_round2": "control", "unlabelled_weighted_round2": "unlabelled_weighted",
          "oracle_round2": "oracle"}
ARMS.update({name: {**ARMS[first], "warmup": "{control}"} for name, first in ROUND2.items()})
# The deep-ensemble teacher's extra heads cost EXTRA_HEADS warm-ups of head training: a control given as many more
# steps (from its own end, real images only) had that compute too.
ARMS["control_long"] = {**ARMS["control"], "warmup": "{control}", "steps": 4500}
# The same compute spent the other way: one extra head (1500 steps) and a stage as long as the rest of
# control_long's budget, so that the student gains from the longer stage as control_long does.
ARMS["created_pool_head1_long"] = {**ARMS["created_pool_heads_geometry"], "teacher_heads": "{heads1}", "steps": 4500}
# Or on more, shorter heads: three extra heads of 1000 warm-up steps each and a 3000-step stage (3 x 1000 + 3000).
ARMS["created_pool_heads3x1000_long"] = {**ARMS["created_pool_heads_geometry"], "teacher_heads": "{heads3@1000}",
                                         "steps": 3000}
# and that arm with the best arm's 16 created images per step (the control's 8 real per step are unchanged).
ARMS["created_pool_heads3x1000_p16_long"] = {**ARMS["created_pool_heads3x1000_long"], "pseudo_batch_size": 16}
# Two ways to teach the student more at the same stage length: a wider ensemble (θC and five extra heads,
# training seeds 101-105; bench/teacher_views.py: its validation normals 0.92° better than one head's, four
# heads 0.74°), and twice as many created images per step beside the same 8 real ones.
ARMS["created_pool_heads6_geometry"] = {**ARMS["created_pool_heads_geometry"], "teacher_heads": "{heads5}"}
ARMS["created_pool_heads_geometry_p16"] = {**ARMS["created_pool_heads_geometry"], "pseudo_batch_size": 16}
# Its creation cost: the same arm on images created with the 10-step and the default 25-step schedule (7 and 16
# UNet calls per image; the arm's own set is made with 5 steps, 4 calls).
BEST_SWEEP = (10, 25)
ARMS.update({f"created_pool_heads_geometry_p16_steps{n}": {**ARMS["created_pool_heads_geometry_p16"],
                                                          "synthetic": f"{{created_pool_steps{n}}}"} for n in BEST_SWEEP})
TRIALS = ("unlabelled_tau", "unlabelled_flip", "unlabelled_weighted", "unlabelled_weighted_tau", "unlabelled_shifts",
          "unlabelled_shifts_tau", "created_pool_shifts", "created_pool_shifts_tau", "unlabelled_heads",
          "created_pool_heads", "unlabelled_heads_geometry", "created_pool_heads_geometry", "control_long",
          "created_pool_head1_long", "created_pool_heads3x1000_long", "created_pool_heads3x1000_p16_long",
          "created_pool_heads6_geometry",
          "created_pool_heads_geometry_p16", *(f"created_pool_heads_geometry_p16_steps{n}" for n in BEST_SWEEP),
          *(f"created_pool_weighted_steps{n}" for n in CREATION_SWEEP), *ROUND2)  # not in the default set
# The demo's improve section, made the benchmark's: longer, every view, pools set per arm.
# Features are read from files on disk (warm-up and stage 2): seeds running side by side share the page
# cache instead of each holding ~4 GB. The 100-label runs made before this ran with "ram": both storages
# train the same heads (tests/training/test_improve_stage.py).
BENCH_IMPROVE = {"steps": STAGE2_STEPS, "views": 6, "unlabelled": "", "unlabelled_limit": 0, "cache_storage": "disk"}
TEACHER_EVERY = 300  # θC labels the whole pool every 300 steps (its EMA horizon is 500): a CPU budget
DEMO_ARM = "unlabelled"  # the demo pools created and unlabelled images; the nearest arm measured
BEST_AT_100 = "created_pool_heads_geometry_p16"  # chosen on validation at 100 labels (self_improve_tables.best_arm)
SMALL_ARMS = ("control", "oracle", BEST_AT_100)  # at 25 and 800 labels the minimum


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, {platform.python_version()}"


def read_git_commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True, cwd=Path(__file__).parent).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


COMMIT = read_git_commit()  # the code this process runs, whatever the tree holds by the time a stage starts


def make_data(work: Path, rooms: dict) -> tuple[str, str]:
    """The labelled world (the demo's rooms) and the unlabelled pool (other rooms, another seed)."""
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    paths = []
    for name, settings in (("rooms", rooms), ("pool", {**rooms, "num": POOL_SIZE, "seed": 1, "test_fraction": 0.0})):
        out = work / name
        if not (out / "meta.json").is_file():
            staging = work / f"{name}.tmp{os.getpid()}"
            generate_rooms(RoomsConfig(out=str(staging), **settings), progress=False)
            try:
                staging.rename(out)
            except OSError:  # another seed's process made it first: same seed, same images
                subprocess.run(["rm", "-rf", str(staging)], check=False)
        paths.append(str(out))
    return paths[0], paths[1]


def seed_config(work: Path, labelled: int, seed: int):
    """The demo's run config for one (labelled, seed): its own labelled subset, validation for evaluation."""
    base = load_run_config(demo_config_path(), out=str(work / f"L{labelled}" / f"s{seed}"))
    base.shared.update({"num_labelled": labelled, "labelled_seed": seed, "seed": seed, "data": str(work / "rooms"),
                        "progress": False, "eval_split": "unlabelled"})
    return base


EXTRA_HEADS = 3  # heads beside θC in the deep-ensemble teacher, each warmed up with training seed 100 + k


def extra_warmup_config(work: Path, labelled: int, seed: int, k: int, steps: int | None = None):
    """The warm-up of (labelled, seed) again with training seed 100 + k: the same labels, another head
    (`steps` long instead of the warm-up's, in a folder of its own, when given)."""
    warmup = stage_configs(seed_config(work, labelled, seed))[0]
    name = f"warmup_k{k}" if steps is None else f"warmup_k{k}_steps{steps}"
    return replace(warmup, seed=100 + k, steps=steps or warmup.steps, out=str(Path(warmup.out).parent / name),
                   cache_dir=str(work / "features"), cache_storage=BENCH_IMPROVE["cache_storage"])


def extra_warmups(work: Path, labelled: int, seed: int, count: int = EXTRA_HEADS, steps: int | None = None) -> list[str]:
    """Checkpoints of the first `count` extra warm-ups of (labelled, seed), trained where missing."""
    from diff2in1.training.warmup import train_warmup

    paths = []
    for k in range(1, count + 1):
        config = extra_warmup_config(work, labelled, seed, k, steps)
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


def one_seed(work: Path, labelled: int, seed: int, arms: tuple[str, ...]) -> None:
    from diff2in1.creation import create_dataset
    from diff2in1.self_improving.improve import train_improve
    from diff2in1.training.warmup import train_warmup

    base = seed_config(work, labelled, seed)
    _, pool = make_data(work, base.rooms)
    warmup, create, improve = stage_configs(base)
    features = str(work / "features")  # a frozen backbone's features depend only on the image and view
    warmup = replace(warmup, cache_dir=features, cache_storage=BENCH_IMPROVE["cache_storage"])
    if not (Path(warmup.out) / "metrics.json").is_file():
        record_made_by(Path(warmup.out))
        train_warmup(warmup)
    checkpoint = str(Path(warmup.out) / "checkpoint")
    created_labelled = str(Path(base.out) / "created_labelled")
    if any("{created_labelled}" in ARMS[name].values() for name in arms):
        create_dataset(replace(create, out=created_labelled, checkpoint=checkpoint, progress=False))
    paths = {"created_labelled": created_labelled, "pool": pool,
             "control": str(Path(base.out) / "control" / "checkpoint")}
    for name in with_prerequisites(arms):
        created = created_pool_steps(ARMS[name].get("synthetic", ""), create.steps)
        if created:  # each seed its own set, from its own warm-up
            folder, steps = created
            paths[folder] = str(Path(base.out) / folder)
            create_dataset(replace(create, out=paths[folder], data=pool, num_labelled=0, checkpoint=checkpoint,
                                   steps=steps, progress=False))
        count, steps = heads_wanted(ARMS[name])
        if count and len(paths.get(heads_key(steps), [])) < count:
            paths[heads_key(steps)] = extra_warmups(work, labelled, seed, count, steps)
        overrides = {k: fill_paths(v, paths) for k, v in ARMS[name].items()}
        preset = ImproveConfig.presets.get(overrides.get("preset", ""), {})  # under the arm's own settings
        config = replace(improve, **{**BENCH_IMPROVE, "cache_dir": features, "out": str(Path(base.out) / name),
                                     "teacher_every": 1 if name == "release" else TEACHER_EVERY, **preset, **overrides})
        if not (Path(config.out) / "metrics.json").is_file():
            print(f"L{labelled} s{seed}: {name}", file=sys.stderr, flush=True)
            record_made_by(Path(config.out))
            train_improve(replace(config, resume=(Path(config.out) / "train_state").exists()))
        score_arm(Path(config.out), config)
    score_arm(Path(warmup.out), replace(improve, cache_dir=features), warmup=True)


# "{heads}": all EXTRA_HEADS extra heads; "{headsN}": the first N; "{headsN@S}": the first N, warmed up S steps each
HEADS_PLACEHOLDER = re.compile(r"\{heads(\d*)(?:@(\d+))?\}")


def heads_in(value) -> tuple[int, int | None]:
    """(how many extra heads, their warm-up steps or None for the warm-up's) one arm setting names; (0, None)
    when it is not a heads placeholder."""
    match = HEADS_PLACEHOLDER.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return 0, None
    return int(match[1] or EXTRA_HEADS), int(match[2]) if match[2] else None


def heads_wanted(arm: dict) -> tuple[int, int | None]:
    """(how many extra warm-up heads an arm's teacher averages, their steps); (0, None) for none."""
    return max((heads_in(value) for value in arm.values()), key=lambda found: found[0], default=(0, None))


def heads_key(steps: int | None) -> str:
    """Where one_seed's paths keep the extra heads of one warm-up length."""
    return "heads" if steps is None else f"heads@{steps}"


def fill_paths(value, paths: dict):
    """An arm's setting with its {placeholders} filled; a heads placeholder becomes a list of extra heads."""
    count, steps = heads_in(value)
    if count:
        return paths[heads_key(steps)][:count]
    return value.format(**paths) if isinstance(value, str) else value


def with_prerequisites(arms: tuple[str, ...]) -> tuple[str, ...]:
    """The arms in order, the control first where a second round starts from its end."""
    needs_control = any("{control}" in ARMS[name].values() for name in arms)
    return ("control", *(a for a in arms if a != "control")) if needs_control else arms


def created_pool_steps(synthetic: str, default_steps: int) -> tuple[str, int] | None:
    """("created_pool[_stepsN]", N) of an arm whose synthetic set is created from the pool, else None."""
    match = re.fullmatch(r"\{(created_pool(?:_steps(\d+))?)\}", synthetic)
    return (match[1], int(match[2]) if match[2] else default_steps) if match else None


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


def score_warmup(work: Path, labelled: int, seed: int) -> None:
    """Score a finished warm-up of (labelled, seed) that has no scores.json yet (for a partial table)."""
    warmup, _, improve = stage_configs(seed_config(work, labelled, seed))
    if (Path(warmup.out) / "metrics.json").is_file():
        score_arm(Path(warmup.out), replace(improve, cache_dir=str(work / "features")), warmup=True)


def score_arm(run: Path, config, warmup: bool = False) -> None:
    """θE and θC on validation and test, with and without flip averaging: RUN/scores.json."""
    target = run / "scores.json"
    if target.is_file():
        return
    from diff2in1.perception.checkpoint import load_perception
    from diff2in1.self_improving.improve import eval_features
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.head_training import HeadTraining

    scores = {}
    for split in ("unlabelled", "test"):
        trainer = HeadTraining(replace(config, eval_split=split), run)
        models = {"theta_e": load_perception(run / "checkpoint", which="model")[0]}
        if not warmup:
            models["theta_c"] = load_perception(run / "checkpoint", which="creation")[0]
        cached = eval_features(trainer, replace(config, cache_storage="ram"), ViewBank(2))
        scores["val" if split == "unlabelled" else split] = trainer.evaluate(models, flip=True, features=cached)
    write_json(target, scores)


# Runs trained before stages recorded RUN/made_by.json, as the session's log and git history show them.
EARLIER_RUNS = {"warmup": "344f2a3 (seeds 0, 1) and d103f4e (seed 2)", "arms": "71f5174"}


def made_by(work: Path, args: argparse.Namespace) -> dict:
    """Per (labelled, seed, stage): the command and commit each run was trained with."""
    out: dict = {}
    if any(not (run.parent / "made_by.json").is_file() for run in work.glob("L*/s*/*/metrics.json")):
        out["before_made_by_json"] = {**EARLIER_RUNS, "command": "python bench/self_improve.py --labelled 100 "
                                      "--seeds S (one process per seed)"}
    for path in sorted(work.glob("L*/s*/*/made_by.json")):
        out["/".join(path.parent.parts[-3:])] = read_json(path)
    return out


def write_results(work: Path, args: argparse.Namespace, argv: list[str] | None) -> None:
    """Tables of the work folder's runs and of those the results file already holds (the work folder may be
    a new machine's, with only some of them)."""
    runs_file = Path(args.results) / "self_improve_runs.json"
    stored = read_json(runs_file) if runs_file.is_file() else {}
    runs, kept, dropped = merge_stored(collect(work, args.labelled, args.seeds, ["warmup", *ARMS]), stored.get("runs", {}))
    if dropped:
        print(f"{runs_file}: not pairable with this work folder's warm-ups, kept aside under runs_left_out: "
              f"{', '.join(dropped)}", file=sys.stderr)
    runs_made_by = merge_made_by(made_by(work, args), stored.get("runs_made_by", {}), kept)
    meta = {"command": "python bench/self_improve.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "git_commit": COMMIT, "machine": machine(), "stage2_steps": STAGE2_STEPS, "teacher_every": TEACHER_EVERY,
            "pool_size": POOL_SIZE, "settings": demo_config_path().name, "work": str(work),
            "runs_made_by": runs_made_by, "runs_from_earlier_results": kept,
            "creation_calls": creation_calls(seed_config(work, 100, 0))}
    left_out = {**stored.get("runs_left_out", {}), **{run: _stored_run(stored["runs"], run) for run in dropped}}
    write_json(runs_file, {**meta, "runs": runs, **({"runs_left_out": left_out} if left_out else {})})
    write_tables(runs, Path(args.results), meta)
    # The demo's report colours a change against the control only beyond this spread.
    write_demo_spread(runs, DEMO_ARM, Path(__file__).parents[1] / "src/diff2in1/report/demo_spread.json", meta)


def _stored_run(runs: dict, run: str) -> dict:
    count, seed, arm = run.split("/")
    return runs[count.removeprefix("L")][seed.removeprefix("s")][arm]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelled", type=int, nargs="+", default=[100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=None, help="default: all at 100 labels, four otherwise")
    parser.add_argument("--work", default=str(Path.home() / ".cache" / "diff2in1" / "bench" / "self_improve_v2"))
    parser.add_argument("--results", default="bench/results")
    parser.add_argument("--collect-only", action="store_true", help="tabulate what has finished so far")
    args = parser.parse_args(argv)
    work = Path(args.work)
    if args.collect_only:
        for labelled in args.labelled:
            for seed in args.seeds:
                score_warmup(work, labelled, seed)
    else:
        for labelled in args.labelled:
            arms = tuple(args.arms or ([a for a in ARMS if a not in TRIALS] if labelled == 100 else SMALL_ARMS))
            unknown = sorted(set(arms) - set(ARMS))
            if unknown:
                parser.error(f"unknown arms {unknown}; known: {sorted(ARMS)}")
            for seed in args.seeds:
                one_seed(work, labelled, seed, arms)
    write_results(work, args, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
