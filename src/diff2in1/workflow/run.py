"""`diff2in1 run CONFIG`: warm-up → create → improve → evaluate → report, in one run folder.

The YAML config has shared keys (data, dataset, backbone, tasks, num_labelled, …) and one section per
stage (``warmup:``, ``create:``, ``improve:``) whose keys override the stage's options. A stage whose
output is complete is skipped, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import config_from_dict
from ..fileio import read_json, read_yaml, write_json, write_yaml
from ..self_improving.config import ImproveConfig
from ..training.configs import WarmupConfig
from .choose import DEFAULT_RULE, RULES

# The benchmark's best pre-registered recipe (bench/preregistered/self_improve-round3.json, docs/self_improve.md),
# each key overridden by the config's improve section: θC's targets average the image and its mirror and
# RECIPE_EXTRA_HEADS more warm-up heads on the same labels, 16 samples without ground truth train beside each
# labelled batch, and θC labels the geometry tasks only, as its soft classes cost mIoU in every arm.
RECIPE = {"pseudo_batch_size": 16, "teacher_views": "flip"}
RECIPE_PSEUDO_TASKS = ("normal", "depth")
RECIPE_EXTRA_HEADS = 3

SHARED_KEYS = ("data", "dataset", "tasks", "backbone", "backbone_kind", "timestep", "num_labelled", "labelled_seed",
               "seed", "batch_size", "channels", "fuse_stride", "flip", "cache_features", "cache_dir", "eval_split",
               "val_fraction", "mixed_precision", "gradient_checkpointing", "progress")


@dataclass
class RunConfig:
    out: str = "runs/run"
    rooms: dict[str, Any] = field(default_factory=dict)  # make a rooms data set at `data` first (RoomsConfig keys)
    shared: dict[str, Any] = field(default_factory=dict)
    warmup: dict[str, Any] = field(default_factory=dict)
    create: dict[str, Any] = field(default_factory=dict)
    improve: dict[str, Any] = field(default_factory=dict)
    control: bool = True  # also run the control at the same compute (control_config): real samples only
    recipe: bool = True  # start the improve stage from RECIPE (false: the improve command's own defaults)
    extra_heads: int | None = None  # more warm-up heads on the same labels (other seeds) θC's targets average;
    # None: RECIPE_EXTRA_HEADS with the recipe, else 0
    choose_by: str = DEFAULT_RULE  # how the exported model is chosen on validation (choose.RULES)
    report: bool = True


def load_run_config(path: str | Path, out: str | None = None) -> RunConfig:
    """Read a run YAML: top-level shared keys, `out`, `rooms`, and the stage sections."""
    raw = dict(read_yaml(path))
    sections = {k: raw.pop(k) for k in ("warmup", "create", "improve", "rooms") if k in raw}
    top = {k: raw.pop(k) for k in ("out", "report", "control", "recipe", "extra_heads", "choose_by") if k in raw}
    unknown = sorted(set(raw) - set(SHARED_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; shared keys are {list(SHARED_KEYS)}, sections "
                         "warmup/create/improve/rooms, and out/report/control/recipe/extra_heads/choose_by")
    config = RunConfig(shared=raw, **sections, **top)
    if not isinstance(config.recipe, bool):
        raise ValueError(f"{path}: recipe must be true or false, got {config.recipe!r}")
    if config.extra_heads is not None and (not isinstance(config.extra_heads, int) or config.extra_heads < 0):
        raise ValueError(f"{path}: extra_heads must be a whole number >= 0, got {config.extra_heads!r}")
    if config.choose_by not in RULES:
        raise ValueError(f"{path}: choose_by must be one of {list(RULES)}, got {config.choose_by!r}")
    if out:
        config.out = out
    return config


def stage_configs(config: RunConfig) -> tuple[WarmupConfig, Any, ImproveConfig]:
    """The three stages' configs, with the run folder's paths filled in."""
    from ..creation import CreateConfig

    run = Path(config.out)
    # One feature cache for the run: improve reads the image and mirror features the warm-up computed.
    features = {"cache_dir": str(run / "features")}
    warmup = config_from_dict(WarmupConfig, {**features, **_shared(config, WarmupConfig), **config.warmup,
                                             "out": str(run / "warmup"), "resume": True}, "run config [warmup]")
    create_keys = {f.name for f in dataclasses.fields(CreateConfig)}
    create_shared = {k: v for k, v in config.shared.items() if k in create_keys and k != "seed"}
    create = config_from_dict(CreateConfig, {
        **create_shared, "labelled_seed": warmup.labelled_seed, "num_labelled": warmup.num_labelled,
        "checkpoint": str(run / "warmup" / "checkpoint"), "out": str(run / "synthetic"), **config.create},
        "run config [create]")
    heads = [str(Path(head.out) / "checkpoint") for head in extra_head_configs(config, warmup)]
    improve = config_from_dict(ImproveConfig, {
        **features, **_shared(config, ImproveConfig), **_recipe(config), **config.improve,
        "out": str(run / "improve"), "resume": True,
        "warmup": str(run / "warmup" / "checkpoint"), "synthetic": str(run / "synthetic"),
        **({"teacher_heads": heads} if heads else {})}, "run config [improve]")
    return warmup, create, improve


def _recipe(config: RunConfig) -> dict[str, Any]:
    """RECIPE, or nothing where the config turns it off or its improve section names a preset (whose
    settings then stand)."""
    return RECIPE if config.recipe and not config.improve.get("preset") else {}


def extra_heads(config: RunConfig) -> int:
    """The config's extra_heads, else RECIPE_EXTRA_HEADS where the recipe applies, else 0."""
    if config.extra_heads is not None:
        return config.extra_heads
    return RECIPE_EXTRA_HEADS if _recipe(config) else 0


def recipe_pseudo_tasks(warmup_run: Path) -> list[str]:
    """The recipe's pseudo-labelled tasks among those the warm-up trained (read from its metrics.json: a
    config may leave its tasks to the data set); [] (every task) for a model with no geometry task."""
    trained = read_json(warmup_run / "metrics.json")["metrics"]
    return [task for task in RECIPE_PSEUDO_TASKS if task in trained]


def extra_head_configs(config: RunConfig, warmup: WarmupConfig) -> list[WarmupConfig]:
    """The warm-up again with seeds seed + 101, seed + 102, ...: the same labels, other heads (RUN/heads/k1, ...)."""
    heads = Path(config.out) / "heads"
    return [dataclasses.replace(warmup, seed=warmup.seed + 100 + k, out=str(heads / f"k{k}"))
            for k in range(1, extra_heads(config) + 1)]


def _shared(config: RunConfig, cls: type) -> dict[str, Any]:
    """The shared keys that are options of ``cls`` (the warm-up's head size and flips are not improve's)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in config.shared.items() if k in names}


def run_pipeline(config: RunConfig) -> Path:
    """Run every stage not yet complete; export the better of Diff-2-in-1 and the control on validation as
    RUN/model/ (choose.py); write RUN/metrics.json and the report. Returns the run folder."""
    from ..creation import create_dataset
    from ..self_improving.improve import train_improve
    from ..training.warmup import train_warmup
    from .choose import choose_and_export, keep_validation_out

    run = Path(config.out)
    warmup, create, improve = stage_configs(config)
    improve = keep_validation_out(improve)
    write_yaml(run / "config.yaml", {"out": config.out, "rooms": config.rooms, "recipe": config.recipe,
                                     "extra_heads": extra_heads(config), "choose_by": config.choose_by,
                                     **config.shared, "warmup": config.warmup, "create": config.create,
                                     "improve": config.improve})
    timings = StageTimer(run / TIMINGS_FILE)
    if config.rooms and not (Path(warmup.data) / "meta.json").is_file():
        from ..data.rooms import RoomsConfig, generate_rooms

        timings.run("rooms", generate_rooms, RoomsConfig(out=warmup.data, **config.rooms), progress=warmup.progress)
    if not (run / "warmup" / "metrics.json").is_file():
        timings.run("warmup", train_warmup, warmup)
    for k, head in enumerate(extra_head_configs(config, warmup), start=1):
        if not (Path(head.out) / "metrics.json").is_file():
            timings.run(f"head {k}", train_warmup, head)
    if _recipe(config) and "pseudo_tasks" not in config.improve:
        improve = dataclasses.replace(improve, pseudo_tasks=recipe_pseudo_tasks(run / "warmup"))
    if improve.pseudo_batch_size and improve.synthetic:
        timings.run("create", create_dataset, create)
    if not (run / "improve" / "metrics.json").is_file():
        timings.run("improve", train_improve, improve)
    if config.control and not (run / "control" / "metrics.json").is_file():
        timings.run("control", train_improve, control_config(improve, extra_heads(config) * warmup.steps))
    chosen = timings.run("choose", choose_and_export, improve, run, config.choose_by)
    write_json(run / "metrics.json", {**summary_metrics(run), "chosen": chosen, "timings": timings.seconds})
    if config.report:
        from ..report.html import write_report

        report = timings.run("report", write_report, run, data=warmup.data, dataset=warmup.dataset)
        print(f"report: {report}")
    return run


TIMINGS_FILE = "timings.json"


class StageTimer:
    """Wall-clock seconds of each stage, printed when it ends and kept in RUN/timings.json; a stage skipped
    because an earlier run completed it keeps that run's time."""

    def __init__(self, path: Path):
        self.path = path
        self.seconds: dict[str, float] = dict(read_json(path)) if path.is_file() else {}

    def run(self, stage: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        result = work(*args, **kwargs)
        self.seconds[stage] = round(time.perf_counter() - start, 1)
        # CPU time beside wall time: on a machine shared with other jobs the wall time says little
        print(f"stage {stage}: {self.seconds[stage]:.1f} s (CPU time {time.process_time() - cpu:.1f} s)")
        write_json(self.path, self.seconds)
        return result


def control_config(improve: ImproveConfig, head_steps: int = 0) -> ImproveConfig:
    """The control of an improve stage at the same compute: the same views, EMA and test-time averaging; as
    many images per step, all real and labelled (8 real + 8 created is matched by 16 real; the labelled set
    repeats); and the stage's steps plus ``head_steps``, the steps of the extra heads θC's teacher averages,
    in one schedule from the warm-up. It lacks only the teacher's labelling passes (forward passes)."""
    pseudo = improve.pseudo_batch_size if improve.synthetic or improve.unlabelled else 0
    return dataclasses.replace(improve, out=str(Path(improve.out).parent / "control"), steps=improve.steps + head_steps,
                               batch_size=improve.batch_size + pseudo, pseudo_batch_size=0, synthetic="", unlabelled="",
                               teacher_heads=[])


def summary_metrics(run: Path) -> dict[str, Any]:
    """{"warmup", "control", "diff2in1" (θC), "diff2in1_theta_e", and each improve head with flip averaging
    ("…_tta")}, each {task: {metric: value}}; "control" entries only when the control ran."""
    warm = read_json(run / "warmup" / "metrics.json")
    improved = read_json(run / "improve" / "metrics.json")["metrics"]
    out = {"split": warm["split"], "warmup": warm["metrics"], "diff2in1": improved["theta_c"],
           "diff2in1_theta_e": improved["theta_e"]}
    if "theta_c_tta" in improved:
        out["diff2in1_tta"] = improved["theta_c_tta"]
        out["diff2in1_theta_e_tta"] = improved.get("theta_e_tta", {})
    if (run / "control" / "metrics.json").is_file():
        control = read_json(run / "control" / "metrics.json")["metrics"]
        out["control"] = control["theta_c"]
        if "theta_c_tta" in control:
            out["control_tta"] = control["theta_c_tta"]
    return out
