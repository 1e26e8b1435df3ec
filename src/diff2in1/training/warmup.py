"""`diff2in1 warmup`: train the aggregator and task heads on labelled data, the diffusion backbone frozen."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..config import config_to_dict
from ..fileio import write_json, write_yaml
from ..heads import PerceptionModel
from ..perception.checkpoint import INFO_FILE, load_perception, save_perception
from ..perception.evaluation import FeatureSource, evaluate
from ..perception.splits import (
    backbone_info,
    labelled_subsets,
    open_backbone,
    open_split,
    unlabelled_subset,
)
from ..tasks import check_tasks
from .augment import Augmentation
from .configs import HeadTrainingConfig, WarmupConfig
from .loop import RunLog, flat_metrics, make_optimizer, resume_train_state, rng_states, save_train_state
from .samples import require_samples
from .sources import BatchSource
from .step import TrainStep, make_accelerator, writes


class HeadTraining:
    """The state of a head-training run that warm-up and improve share: backbone, data splits, accelerator."""

    def __init__(self, config: HeadTrainingConfig, out: Path):
        self.config, self.out = config, out
        self.accelerator = make_accelerator(config, out)
        self.backbone = open_backbone(config.backbone, config.backbone_kind, self.accelerator.device, config.timestep,
                                      config.feature_taps)
        size = self.backbone.sample_size
        full = open_split(config.dataset, config.data, "train", config.tasks or None, size)
        self.tasks = check_tasks(config.tasks or full.tasks, where="--tasks")
        self.num_classes, self.classes = full.num_classes, full.classes
        require_samples(full, f"--data {config.data} (train split)", "the folder holds no training image",
                        "pass the root of a data set in the project layout or another --dataset reader")
        self.train_set, self.val_set = labelled_subsets(full, config.num_labelled, config.val_fraction, config.labelled_seed)
        require_samples(self.train_set, "labelled training images", f"{len(full)} training images, --num-labelled "
                        f"{config.num_labelled}, of which --val-fraction {config.val_fraction} is held for validation",
                        "pass a smaller --val-fraction")
        self.train_set.num_classes = full.num_classes
        self.eval_set = self._eval_set(full, size)
        self.eval_set.num_classes = full.num_classes

    def _eval_set(self, full, size: int):
        """The --eval-split images, refused when there are none."""
        config = self.config
        if config.eval_split == "val":
            require_samples(self.val_set or [], "--eval-split val", f"--val-fraction {config.val_fraction} holds "
                            f"none of the {len(self.train_set)} labelled images", "pass --val-fraction above 0")
            return self.val_set
        if config.eval_split == "unlabelled":
            return unlabelled_subset(full, config.num_labelled, config.labelled_seed)
        found = open_split(config.dataset, config.data, config.eval_split, self.tasks, size)
        require_samples(found, f"--eval-split {config.eval_split}", f"the split of {config.data} holds none",
                        "pass another --eval-split (test, val or unlabelled)")
        return found

    @property
    def writes(self) -> bool:
        return writes(self.accelerator)

    def data_order(self) -> dict[str, int]:
        """What fixes the batches of every step (saved in the train state, checked on resume)."""
        return {"seed": self.config.seed, "batch_size": self.config.batch_size}

    def source(self, dataset, augmentation: Augmentation, start_step: int = 0) -> BatchSource:
        config, accelerator = self.config, self.accelerator
        folder = config.cache_dir or (str(self.out / "features") if config.cache_storage == "disk" else None)
        return BatchSource(self.backbone, dataset, augmentation, config.seed, config.cache_features, folder,
                           config.progress and self.writes, start_step, storage=config.cache_storage,
                           num_workers=config.num_workers,
                           process=(accelerator.process_index, accelerator.num_processes))

    def info(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "classes": self.classes, "dataset": self.config.dataset, "data": self.config.data,
                "backbone": backbone_info(self.config.backbone, self.config.backbone_kind, self.backbone,
                                          self.config.feature_taps)}

    def evaluate(self, models: dict[str, PerceptionModel], flip: bool = False,
                 features: FeatureSource | None = None) -> dict[str, dict]:
        """Metrics of ``models`` on the evaluation split (``perception.evaluation.evaluate``, which
        `diff2in1 evaluate` also calls); call on every process (they share the work)."""
        return evaluate(self.backbone, models, self.eval_set, flip=flip, accelerator=self.accelerator,
                        features=features, progress=self.config.progress)

    def progress_bar(self, desc: str, step: int) -> tqdm:
        return tqdm(total=self.config.steps, initial=step, desc=desc, disable=not self.config.progress or not self.writes)


def new_model(run: HeadTraining, config: WarmupConfig) -> PerceptionModel:
    """A fresh aggregator and heads for the run's backbone and tasks (seeded by ``config.seed``)."""
    torch.manual_seed(config.seed)
    return PerceptionModel(run.backbone.feature_channels, run.backbone.feature_strides, run.tasks,
                           num_classes=run.num_classes if "semseg" in run.tasks else None,
                           channels=config.channels, max_depth=config.max_depth, fuse_stride=config.fuse_stride)


def _warmup_step(run: HeadTraining, trainer: TrainStep, source: BatchSource) -> dict[str, float]:
    """One optimizer step on this process's shard of the next global batch; logs averaged over processes."""
    trainer.model.train()
    batch = source.next(run.config.batch_size)
    features = source.features(batch)
    with trainer.autocast():
        preds = trainer.model(features, tuple(batch["image"].shape[-2:]))
        loss, logs = trainer.plain.loss(preds, batch)
    return {**trainer.mean(logs), **trainer.step(loss)}


def _save(run: HeadTraining, trainer: TrainStep, step: int) -> None:
    rng = rng_states(run.accelerator)  # a collective: every process takes part, the main one writes
    if run.writes:
        save_train_state(run.out, {"model": trainer.plain}, trainer.optimizer, trainer.schedule, step,
                         data=run.data_order(), rng=rng)
        save_perception(run.out / "checkpoint", trainer.plain, {**run.info(), "stage": "warmup", "step": step})


def _start(config: WarmupConfig) -> tuple[HeadTraining, TrainStep, RunLog]:
    out = Path(config.out)
    if not config.resume and (out / "train_state").exists():
        raise FileExistsError(f"{out}: a run already exists there; pass --resume to continue it or choose --out")
    run = HeadTraining(config, out)
    if config.resume and (out / "checkpoint" / INFO_FILE).is_file():
        load_perception(out / "checkpoint", tasks=run.tasks)  # a changed --tasks fails naming both task sets
    if run.writes:
        write_yaml(out / "config.yaml", config_to_dict(config))
    model = new_model(run, config)
    optimizer, schedule = make_optimizer(model, config.lr, config.weight_decay, config.steps, config.lr_warmup)
    step = resume_train_state(out, {"model": model}, optimizer, schedule, data=run.data_order(),
                              accelerator=run.accelerator) if config.resume else 0
    trainer = TrainStep(run.accelerator, model, optimizer, schedule, steps=step)
    return run, trainer, RunLog(run.accelerator, out, "warmup", config, step)


def train_warmup(config: WarmupConfig) -> Path:
    """Run the warm-up; returns the run folder (its checkpoint/ is the warm-up model)."""
    run, trainer, log = _start(config)
    augmentation = Augmentation(config.flip, config.crop_min_scale, config.jitter)
    source = run.source(run.train_set, augmentation, trainer.steps)
    bar, start = run.progress_bar("warmup", trainer.steps), time.time()
    while trainer.steps < config.steps:
        logs = _warmup_step(run, trainer, source)
        step = trainer.steps
        bar.update()
        bar.set_postfix(loss=f"{logs['total']:.3f}")
        log.train({"step": step, **logs, "seconds": round(time.time() - start, 2)})
        if config.eval_every and step % config.eval_every == 0 and step < config.steps:
            log.evaluation({"step": step, **flat_metrics(run.evaluate({"model": trainer.plain}).get("model", {}))})
        if step % config.checkpoint_every == 0 or step == config.steps:
            _save(run, trainer, step)
    bar.close()
    if trainer.steps == 0 and run.writes:  # --steps 0: the freshly initialised head is the checkpoint (a baseline)
        save_perception(run.out / "checkpoint", trainer.plain, {**run.info(), "stage": "warmup", "step": 0})
    metrics = run.evaluate({"model": trainer.plain}).get("model", {})
    log.evaluation({"step": trainer.steps, **flat_metrics(metrics)})
    if run.writes:
        write_json(run.out / "metrics.json", {"split": config.eval_split, "step": trainer.steps, "metrics": metrics})
    log.close()
    return run.out
