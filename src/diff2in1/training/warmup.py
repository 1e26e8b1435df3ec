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
from ..perception.evaluation import evaluate_model
from ..perception.splits import (
    backbone_info,
    labelled_subsets,
    open_backbone,
    open_split,
    unlabelled_subset,
)
from ..tasks import check_tasks
from .augment import Augmentation
from .configs import WarmupConfig
from .loop import CsvLog, flat_metrics, make_optimizer, resume_train_state, save_train_state
from .sources import BatchSource


class HeadTraining:
    """The state of a head-training run that warm-up and improve share: backbone, data, model, optimizer."""

    def __init__(self, config: Any, out: Path):
        from accelerate import Accelerator

        self.config, self.out = config, out
        self.accelerator = Accelerator(mixed_precision=config.mixed_precision, cpu=not torch.cuda.is_available())
        self.backbone = open_backbone(config.backbone, config.backbone_kind, self.accelerator.device, config.timestep)
        size = self.backbone.sample_size
        full = open_split(config.dataset, config.data, "train", config.tasks or None, size)
        self.tasks = check_tasks(config.tasks or full.tasks, where="--tasks")
        self.num_classes, self.classes = full.num_classes, full.classes
        self.train_set, self.val_set = labelled_subsets(full, config.num_labelled, config.val_fraction, config.labelled_seed)
        self.train_set.num_classes = full.num_classes
        if config.eval_split == "val":
            self.eval_set = self.val_set
        elif config.eval_split == "unlabelled":
            self.eval_set = unlabelled_subset(full, config.num_labelled, config.labelled_seed)
        else:
            self.eval_set = open_split(config.dataset, config.data, config.eval_split, self.tasks, size)
        if self.eval_set is not None:
            self.eval_set.num_classes = full.num_classes
        self.augmentation = Augmentation(config.flip, config.crop_min_scale, config.jitter)

    def source(self, dataset, start_step: int = 0) -> BatchSource:
        return BatchSource(self.backbone, dataset, self.augmentation, self.config.seed, self.config.cache_features,
                           self.config.cache_dir or None, self.config.progress, start_step)

    def new_model(self) -> PerceptionModel:
        torch.manual_seed(self.config.seed)
        return PerceptionModel(self.backbone.feature_channels, self.backbone.feature_strides, self.tasks,
                               num_classes=self.num_classes if "semseg" in self.tasks else None,
                               channels=self.config.channels, max_depth=self.config.max_depth,
                               fuse_stride=self.config.fuse_stride)

    def info(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "classes": self.classes, "dataset": self.config.dataset, "data": self.config.data,
                "backbone": backbone_info(self.config.backbone, self.config.backbone_kind, self.backbone)}

    def evaluate(self, models: dict[str, PerceptionModel]) -> dict[str, dict]:
        if self.eval_set is None:
            return {}
        return evaluate_model(self.backbone, models, self.eval_set, progress=self.config.progress)


def train_warmup(config: WarmupConfig) -> Path:
    """Run the warm-up; returns the run folder (its checkpoint/ is the warm-up model)."""
    out = Path(config.out)
    if not config.resume and (out / "train_state").exists():
        raise FileExistsError(f"{out}: a run already exists there; pass --resume to continue it or choose --out")
    run = HeadTraining(config, out)
    if config.resume and (out / "checkpoint" / INFO_FILE).is_file():
        load_perception(out / "checkpoint", tasks=run.tasks)  # a changed --tasks fails naming both task sets
    write_yaml(out / "config.yaml", config_to_dict(config))
    model = run.new_model().to(run.accelerator.device)
    optimizer, schedule = make_optimizer(model, config.lr, config.weight_decay, config.steps, config.lr_warmup)
    step = resume_train_state(out, {"model": model}, optimizer, schedule) if config.resume else 0
    model, optimizer = run.accelerator.prepare(model, optimizer)
    log, eval_log = CsvLog(out / "log.csv"), CsvLog(out / "eval.csv")
    source = run.source(run.train_set, step)
    bar = tqdm(total=config.steps, initial=step, desc="warmup", disable=not config.progress)
    start = time.time()
    while step < config.steps:
        model.train()
        batch = source.next(config.batch_size)
        features = source.features(batch)
        with run.accelerator.autocast():
            preds = model(features, tuple(batch["image"].shape[-2:]))
            loss, logs = run.accelerator.unwrap_model(model).loss(preds, batch)
        run.accelerator.backward(loss)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{logs['total']:.3f}")
        log.write({"step": step, **logs, "lr": schedule.get_last_lr()[0], "seconds": round(time.time() - start, 2)})
        plain = run.accelerator.unwrap_model(model)
        if config.eval_every and step % config.eval_every == 0 and step < config.steps:
            eval_log.write({"step": step, **flat_metrics(run.evaluate({"model": plain}).get("model", {}))})
        if step % config.checkpoint_every == 0 or step == config.steps:
            save_train_state(out, {"model": plain}, optimizer, schedule, step)
            save_perception(out / "checkpoint", plain, {**run.info(), "stage": "warmup", "step": step})
    bar.close()
    if step == 0:  # --steps 0: the freshly initialised head is the checkpoint (an untrained baseline)
        save_perception(out / "checkpoint", run.accelerator.unwrap_model(model),
                        {**run.info(), "stage": "warmup", "step": 0})
    metrics = run.evaluate({"model": run.accelerator.unwrap_model(model)}).get("model", {})
    eval_log.write({"step": step, **flat_metrics(metrics)})
    write_json(out / "metrics.json", {"split": config.eval_split, "step": step, "metrics": metrics})
    return out
