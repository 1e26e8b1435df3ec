"""The benchmark's runs of one (labels, seed): the warm-up, what each arm needs (pools, created sets, extra
heads, the labelled images as a folder), the arm's stage, and its scores on validation and test.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from diff2in1.fileio import write_json
from diff2in1.self_improving.config import ImproveConfig
from diff2in1.workflow.run import load_run_config, stage_configs
from self_improve_arms import (
    ARMS,
    BENCH_IMPROVE,
    EXTRA_HEADS,
    LORA_WARMUP_STEPS,
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

SETTINGS = Path(__file__).with_name("self_improve.yaml")  # the run config every seed starts from


@dataclass(frozen=True)
class Source:
    """The data and backbone the benchmark runs on: by default rooms generated in the work folder and the
    demo's backbone; else a data set (reader name and folder) and a diffusion model of the user's. ``config``:
    the run YAML whose settings the arms start from (default: bench/self_improve.yaml)."""
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
    """The run config of one (labelled, seed): its own labelled subset, validation for evaluation."""
    base = load_run_config(source.config or SETTINGS, out=str(work / f"L{labelled}" / f"s{seed}"))
    data = str(work / "rooms") if source.generated else source.data
    base.shared.update({"num_labelled": labelled, "labelled_seed": seed, "seed": seed, "data": data,
                        "dataset": source.dataset, "progress": False, "eval_split": "unlabelled",
                        "val_fraction": 0.0})  # every label trains; validation is the unlabelled split
    base.recipe = False  # the arms, not run's recipe, say the teacher and the samples (a user's config too)
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
    if "{lora_warmup}" in settings.values() and "lora_warmup" not in paths:
        paths["lora_warmup"] = lora_warmup(warmup, Path(base.out) / "warmup_lora")
    count, steps = heads_wanted(settings)
    if count and len(paths.get(heads_key(steps), [])) < count:
        paths[heads_key(steps)] = extra_warmups(work, warmup.num_labelled, warmup.labelled_seed, count, steps, source)


def lora_warmup(warmup, out: Path) -> str:
    """The trainable-backbone gate's recipe: the seed's warm-up heads, then LORA_WARMUP_STEPS steps with LoRA
    adapters on the UNet (features streamed through it); trained where missing. Returns its checkpoint."""
    from diff2in1.training.warmup import train_warmup

    if not (out / "metrics.json").is_file():
        record_made_by(out)
        train_warmup(replace(warmup, out=str(out), steps=LORA_WARMUP_STEPS, lr_warmup=10, train_backbone="lora",
                             init_heads=str(Path(warmup.out) / "checkpoint")))
    return str(out / "checkpoint")


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
        overrides = arm_overrides(registry[name], paths)
        preset = ImproveConfig.presets.get(overrides.get("preset", ""), {})  # under the arm's own settings
        config = replace(improve, **{**BENCH_IMPROVE, "cache_dir": features, "out": str(Path(base.out) / name),
                                     "teacher_every": 1 if name == "release" else TEACHER_EVERY,
                                     **preset, **overrides})
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
    """θE and θC on validation and test, with and without flip averaging: RUN/scores.json. A checkpoint whose
    backbone trained scores each head on its own UNet weights, features streamed."""
    target = run / "scores.json"
    if target.is_file():
        return
    from diff2in1.perception.checkpoint import load_perception, read_perception_info
    from diff2in1.perception.evaluation import evaluate_each_on_its_weights
    from diff2in1.self_improving.improve import eval_features
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.head_training import HeadTraining

    trained = read_perception_info(run / "checkpoint")["backbone"].get("trained")
    scores = {}
    for split in ("unlabelled", "test"):
        trainer = HeadTraining(replace(config, eval_split=split), run, train_backbone=trained)
        models = {"theta_e": load_perception(run / "checkpoint", which="model")[0]}
        if not warmup:
            models["theta_c"] = load_perception(run / "checkpoint", which="theta_c")[0]
        if trained:  # each head on its own UNet weights, features streamed
            result = evaluate_each_on_its_weights(partial(trainer.evaluate, flip=True), models,
                                                  partial(trainer.stored_unet, run / "checkpoint"))
        else:
            cached = eval_features(trainer, replace(config, cache_storage="ram"), ViewBank(2))
            result = trainer.evaluate(models, flip=True, features=cached)
        scores["val" if split == "unlabelled" else split] = result
    write_json(target, scores)
