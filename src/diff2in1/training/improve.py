"""`diff2in1 improve`: the self-improving stage (paper, section 3).

θE (exploitation) is trained on real samples (ground truth) and on samples without ground truth (created
images, real unlabelled images) whose targets come from θC (creation), an EMA of θE. The teacher knows
more than the student: θC averages its predictions over several views of a sample (mirror, crops, noise
draws: ``teacher_views``) while θE sees one perturbed view; targets are soft (``pseudo_loss.py``). Real
samples get the same views, so the control (``--pseudo-batch-size 0``) has the same augmentation.
The frozen UNet runs once per (image, view); with ``--cache-features`` each pair is computed once.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..config import config_to_dict
from ..fileio import write_json, write_yaml
from ..heads import PerceptionModel
from ..perception.checkpoint import load_perception, save_perception
from ..perception.splits import unlabelled_subset
from .configs import RELEASE_PRESET, ImproveConfig
from .ema import EMA
from .loop import CsvLog, flat_metrics, make_optimizer, resume_train_state, save_train_state
from .pools import Pool, concat_unlabelled, created_batch, make_store, student_views, unlabelled_batch
from .pseudo_loss import pseudo_loss
from .sources import load_all
from .teacher import ensemble_targets, targets_in_view
from .view_eval import evaluate_views
from .views import CLEAN, MIRROR, SECOND_NOISE, ViewBank, warp_targets
from .warmup import HeadTraining


def apply_preset(config: ImproveConfig) -> ImproveConfig:
    """The preset's settings for every option still at its default (options given explicitly win)."""
    if not config.preset:
        return config
    defaults = ImproveConfig()
    changes = {k: v for k, v in RELEASE_PRESET.items() if getattr(config, k) == getattr(defaults, k)}
    return dataclasses.replace(config, **changes)


def teacher_view_list(config: ImproveConfig) -> list[int]:
    return {"all": list(range(config.views)), "flip": [CLEAN, MIRROR], "clean": [CLEAN],
            "noise": [SECOND_NOISE]}[config.teacher_views]


def _load_heads(run: HeadTraining, config: ImproveConfig) -> tuple[PerceptionModel, EMA]:
    model, _ = load_perception(config.warmup, tasks=run.tasks, which="model")
    creation, _ = load_perception(config.warmup, tasks=run.tasks, which="creation")
    ema = EMA(model, decay=config.ema_decay, every=config.ema_every, warmup=config.ema_warmup)
    ema.shadow.load_state_dict(creation.state_dict())
    return model.to(run.accelerator.device), ema


def _pools(run: HeadTraining, config: ImproveConfig, bank: ViewBank) -> tuple[Pool, Pool | None]:
    """The real labelled pool and the pool without ground truth (created + unlabelled; None = control)."""
    views = student_views(config.views)
    real = load_all(run.train_set)
    real_pool = Pool("labelled", real, make_store(run.backbone, real, bank, config), config.seed, views)
    if not config.pseudo_batch_size:
        return real_pool, None
    full = run.train_set.dataset
    excluded = set(run.train_set.indices) | set(getattr(run.val_set, "indices", []) or [])
    if config.num_labelled:
        excluded |= set(unlabelled_subset(full, config.num_labelled, config.labelled_seed).indices)
    unlabelled = unlabelled_batch(config, full, excluded, run.backbone.sample_size)
    labelled_ids = {str(i) for i in real["id"]}
    pool_ids = set(unlabelled["id"]) if unlabelled else set()
    created = created_batch(config, run.tasks, run.backbone.sample_size, labelled_ids, pool_ids)
    if config.unlabelled_labels == "ground_truth":
        if created is not None:
            raise ValueError("--unlabelled-labels ground_truth (the oracle) trains on real labels alone; drop --synthetic")
        batch = unlabelled
    elif config.labels == "stored":
        if created is None or unlabelled is not None:
            raise ValueError("--labels stored takes its labels from --synthetic alone; drop --unlabelled")
        batch = created
    else:
        batch = concat_unlabelled([created, unlabelled])
    if batch is None:
        raise ValueError("--pseudo-batch-size > 0 needs samples without ground truth: --synthetic and/or --unlabelled")
    return real_pool, Pool("pseudo", batch, make_store(run.backbone, batch, bank, config), config.seed + 1, views)


def _real_loss(model: PerceptionModel, pool: Pool, step: int, size: int, device) -> tuple[torch.Tensor, dict]:
    rows, views, params = pool.draw(size, step)
    features = pool.store.get(rows, views)
    targets = warp_targets(pool.labels(rows, device), params)
    preds = model(features, tuple(pool.batch["image"].shape[-2:]))
    return model.loss(preds, targets)


def _pseudo_loss(model: PerceptionModel, labeller: PerceptionModel, pool: Pool, step: int, config: ImproveConfig,
                 device) -> tuple[torch.Tensor, dict]:
    rows, views, params = pool.draw(config.pseudo_batch_size, step)
    size = tuple(pool.batch["image"].shape[-2:])
    features = pool.store.get(rows, views)
    preds = model(features, size)
    if config.labels == "stored" or config.unlabelled_labels == "ground_truth":
        loss, logs = model.loss(preds, warp_targets(pool.labels(rows, device), params))
        return loss, {f"pseudo/{k}": v for k, v in logs.items()}
    targets = targets_in_view(ensemble_targets(labeller, pool.store, rows, teacher_view_list(config), size), params)
    return pseudo_loss(model, preds, targets, config.soft_labels, config.cos_mask)


def _step_loss(model, labeller, pools, step, config, device) -> tuple[torch.Tensor, dict[str, float]]:
    real_pool, pseudo_pool = pools
    loss, logs = _real_loss(model, real_pool, step, config.batch_size, device)
    if pseudo_pool is not None:
        extra, extra_logs = _pseudo_loss(model, labeller, pseudo_pool, step, config, device)
        loss = loss + config.pseudo_weight * extra
        logs = {**logs, **extra_logs, "total": float(loss.detach())}
    return loss, logs


def final_metrics(run: HeadTraining, config: ImproveConfig, bank: ViewBank, models: dict) -> dict[str, Any]:
    """Every head on the evaluation split, with flip averaging too when ``--eval-flip``."""
    if run.eval_set is None:
        return {}
    batch = load_all(run.eval_set)
    store = make_store(run.backbone, batch, bank, config)
    return evaluate_views(models, store, batch, run.num_classes, flip=config.eval_flip)


def train_improve(config: ImproveConfig) -> Path:
    """Run the self-improving stage; the run folder's checkpoint/ holds θE (model) and θC (creation)."""
    config = apply_preset(config)
    out = Path(config.out)
    if not config.resume and (out / "train_state").exists():
        raise FileExistsError(f"{out}: a run already exists there; pass --resume to continue it or choose --out")
    run = HeadTraining(config, out)
    write_yaml(out / "config.yaml", config_to_dict(config))
    model, ema = _load_heads(run, config)
    optimizer, schedule = make_optimizer(model, config.lr, config.weight_decay, config.steps, config.lr_warmup,
                                         config.lr_schedule)
    step = resume_train_state(out, {"model": model, "creation": ema.shadow}, optimizer, schedule) if config.resume else 0
    ema.calls = step
    ema.shadow.to(run.accelerator.device)
    bank = ViewBank(config.views, config.crop_min_scale, config.jitter, config.seed)
    pools = _pools(run, config, bank)
    labeller = ema.shadow
    if config.teacher:
        labeller = load_perception(config.teacher, tasks=run.tasks, which="model")[0].eval().to(run.accelerator.device)
    log, eval_log = CsvLog(out / "log.csv"), CsvLog(out / "eval.csv")
    bar = tqdm(total=config.steps, initial=step, desc="improve", disable=not config.progress)
    start = time.time()
    device = run.accelerator.device
    while step < config.steps:
        model.train()
        with run.accelerator.autocast():
            loss, logs = _step_loss(model, labeller, pools, step, config, device)
        run.accelerator.backward(loss)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        ema.update(model)
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{logs['total']:.3f}")
        log.write({"step": step, **logs, "lr": schedule.get_last_lr()[0], "seconds": round(time.time() - start, 2)})
        if config.eval_every and step % config.eval_every == 0 and step < config.steps:
            metrics = run.evaluate({"theta_e": model, "theta_c": ema.shadow})
            eval_log.write({"step": step, **flat_metrics(metrics.get("theta_e", {}), "E:"),
                            **flat_metrics(metrics.get("theta_c", {}), "C:")})
        if step % config.checkpoint_every == 0 or step == config.steps:
            save_train_state(out, {"model": model, "creation": ema.shadow}, optimizer, schedule, step)
            save_perception(out / "checkpoint", model, {**run.info(), "stage": "improve", "step": step,
                                                        "preset": config.preset or "default"}, creation=ema.shadow)
    bar.close()
    metrics = final_metrics(run, config, bank, {"theta_e": model, "theta_c": ema.shadow})
    write_json(out / "metrics.json", {"split": config.eval_split, "step": step, "preset": config.preset or "default",
                                      "metrics": metrics})
    return out
