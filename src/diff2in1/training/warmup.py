"""`diff2in1 warmup`: train the aggregator and task heads on labelled data; the diffusion backbone stays frozen
(the release) or trains with them (``--train-backbone lora|full``, VPD's way)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import config_to_dict
from ..fileio import write_json, write_yaml
from ..heads import PerceptionModel
from ..perception.checkpoint import INFO_FILE, load_perception, save_perception
from .augment import Augmentation
from .backbone_training import average_gradients, param_groups, warmup_settings
from .configs import WarmupConfig
from .fit import fit
from .head_training import HeadTraining
from .loop import RunLog, flat_metrics, make_optimizer, resume_train_state, rng_states, save_train_state
from .sources import BatchSource
from .step import TrainStep


def new_model(run: HeadTraining, config: WarmupConfig) -> PerceptionModel:
    """A fresh aggregator and heads for the run's backbone and tasks (seeded by ``config.seed``)."""
    torch.manual_seed(config.seed)
    return PerceptionModel(run.backbone.feature_channels, run.backbone.feature_strides, run.tasks,
                           num_classes=run.num_classes if "semseg" in run.tasks else None,
                           channels=config.channels, max_depth=config.max_depth, fuse_stride=config.fuse_stride,
                           loss_weighting=config.loss_weighting)


def _load_heads(model: PerceptionModel, folder: str, tasks: list[str]) -> None:
    """θE of checkpoint ``folder`` into ``model``; a head of another size or task set fails, naming both."""
    start, _ = load_perception(folder, tasks=tasks)
    if start.config() != model.config():
        raise ValueError(f"--init-heads {folder}: its heads are {start.config()}, this run's {model.config()}; "
                         f"pass the same --channels, --fuse-stride, --max-depth and --loss-weighting")
    model.load_state_dict(start.state_dict())


def warmup_loss(run: HeadTraining, trainer: TrainStep, source: BatchSource) -> tuple[torch.Tensor, dict[str, float]]:
    """This process's loss on its shard of the next global batch (a frozen backbone's features outside
    the autocast, at full precision; a trained one's inside it, as the heads)."""
    batch = source.next(run.config.batch_size)
    frozen = run.trained is None
    features = source.features(batch) if frozen else None
    with trainer.autocast():
        features = features if frozen else source.features(batch)
        preds = trainer.model(features, tuple(batch["image"].shape[-2:]))
        return trainer.plain.loss(preds, batch)


def _modules(run: HeadTraining, model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """What the train state holds: the heads, and the UNet's trained weights when the backbone trains."""
    return {"model": model, **({"unet": run.trained.module} if run.trained is not None else {})}


def _save_checkpoint(run: HeadTraining, model: PerceptionModel, step: int) -> None:
    unet = {"model": run.trained.state_dict()} if run.trained is not None else None
    save_perception(run.out / "checkpoint", model, {**run.info(), "stage": "warmup", "step": step}, unet=unet)


def _save(run: HeadTraining, trainer: TrainStep, step: int) -> None:
    rng = rng_states(run.accelerator)  # a collective: every process takes part, the main one writes
    if run.writes:
        save_train_state(run.out, _modules(run, trainer.plain), trainer.optimizer, trainer.schedule, step,
                         data=run.data_order(), rng=rng)
        _save_checkpoint(run, trainer.plain, step)


def _start(config: WarmupConfig) -> tuple[HeadTraining, TrainStep, RunLog]:
    out = Path(config.out)
    if not config.resume and (out / "train_state").exists():
        raise FileExistsError(f"{out}: a run already exists there; pass --resume to continue it or choose --out")
    run = HeadTraining(config, out, train_backbone=warmup_settings(config))
    if config.resume and (out / "checkpoint" / INFO_FILE).is_file():
        load_perception(out / "checkpoint", tasks=run.tasks)  # a changed --tasks fails naming both task sets
    if run.writes:
        write_yaml(out / "config.yaml", config_to_dict(config))
    model = new_model(run, config)
    if config.init_heads:
        _load_heads(model, config.init_heads, run.tasks)
    optimizer, schedule = make_optimizer(model, config.lr, config.weight_decay, config.steps, config.lr_warmup,
                                         extra_groups=param_groups(run.trained, config.lr, config.backbone_lr_scale))
    step = resume_train_state(out, _modules(run, model), optimizer, schedule, data=run.data_order(),
                              accelerator=run.accelerator) if config.resume else 0
    trainer = TrainStep(run.accelerator, model, optimizer, schedule, steps=step,
                        after_backward=lambda: average_gradients(run.trained, run.accelerator))
    return run, trainer, RunLog(run.accelerator, out, "warmup", config, step)


def train_warmup(config: WarmupConfig) -> Path:
    """Run the warm-up; returns the run folder (its checkpoint/ is the warm-up model)."""
    run, trainer, log = _start(config)
    augmentation = Augmentation(config.flip, config.crop_min_scale, config.jitter)
    source = run.source(run.train_set, augmentation, trainer.steps)
    fit(run.plan(), trainer, log, "warmup", loss=lambda step: warmup_loss(run, trainer, source),
        evaluate=lambda: flat_metrics(run.evaluate({"model": trainer.plain}).get("model", {})),
        save=lambda: _save(run, trainer, trainer.steps))
    if trainer.steps == 0 and run.writes:  # --steps 0: the freshly initialised head is the checkpoint (a baseline)
        _save_checkpoint(run, trainer.plain, 0)
    metrics = run.evaluate({"model": trainer.plain}).get("model", {})
    log.evaluation({"step": trainer.steps, **flat_metrics(metrics)})
    if run.writes:
        write_json(run.out / "metrics.json", {"split": config.eval_split, "step": trainer.steps, "metrics": metrics})
    log.close()
    return run.out
