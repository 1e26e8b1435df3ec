"""`diff2in1 improve`: the self-improving stage (paper, section 3).

θE (exploitation) is trained on batches mixing real samples (ground truth) and synthetic ones; θC
(creation) is an EMA of θE and labels the synthetic samples on the fly. The frozen UNet runs once per
image per step (or never, with cached features); θC and θE read the same features.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..config import config_to_dict
from ..fileio import load_tensors, save_tensors, write_json, write_yaml
from ..heads import PerceptionModel
from ..perception.checkpoint import load_perception, save_perception
from ..perception.ddim import create_batch
from ..perception.splits import features_of, open_split
from .configs import ImproveConfig
from .ema import EMA
from .loop import CsvLog, flat_metrics, make_optimizer, resume_train_state, save_train_state
from .sources import concat_batches, load_all
from .synthetic import SyntheticPool, label_with
from .warmup import HeadTraining


def _load_heads(run: HeadTraining, config: ImproveConfig) -> tuple[PerceptionModel, EMA]:
    model, _ = load_perception(config.warmup, tasks=run.tasks, which="model")
    creation, _ = load_perception(config.warmup, tasks=run.tasks, which="creation")
    ema = EMA(model, decay=config.ema_decay, every=config.ema_every)
    ema.shadow.load_state_dict(creation.state_dict())
    return model.to(run.accelerator.device), ema


def _synthetic_pool(run: HeadTraining, config: ImproveConfig, start_step: int) -> SyntheticPool | None:
    if config.real_fraction >= 1.0:
        return None
    created = open_split("folder", config.synthetic, "train", run.tasks, run.backbone.sample_size)
    batch = load_all(created)
    return SyntheticPool(run.backbone, batch, run.augmentation, config.seed, config.cache_features, config.progress,
                         start_step, config.cache_dir or None)


def _round_path(config: ImproveConfig, round_: int) -> Path:
    return Path(config.out) / "online" / f"round_{round_:03d}.safetensors"


def _recreate(run: HeadTraining, pool: SyntheticPool, creation: PerceptionModel, config: ImproveConfig, round_: int) -> None:
    """Online creation: new images from the real labelled ones, made with the current θC.

    The images are kept as 8-bit (as `create` writes them) in OUT/online/, so a resumed run continues
    with the very images the interrupted one was training on.
    """
    real = load_all(run.train_set)
    parts = []
    for start in range(0, len(real["image"]), 16):
        images = real["image"][start : start + 16].to(run.backbone.device)
        captions = real["caption"][start : start + 16] if run.backbone.takes_text else None
        generator = torch.Generator(run.backbone.device).manual_seed(config.seed * 1000 + round_ * 100 + start)
        created, _ = create_batch(run.backbone, creation, images, captions, t_star=config.t_star,
                                  num_inference_steps=config.creation_steps, generator=generator)
        parts.append({"image": created.cpu(), "caption": list(real["caption"][start : start + 16]),
                      "id": list(real["id"][start : start + 16])})
    batch = concat_batches(parts)
    pixels = (batch["image"].clamp(0, 1) * 255).round().to(torch.uint8)
    save_tensors(_round_path(config, round_), {"image": pixels})
    pool.replace({**batch, "image": pixels.float() / 255})


def _resume_online_round(run: HeadTraining, pool: SyntheticPool, creation: PerceptionModel, config: ImproveConfig,
                         step: int) -> None:
    """The synthetic images of the online round a resumed run is in (re-made only if their file is gone)."""
    round_ = step // config.recreate_every
    path = _round_path(config, round_)
    if not path.is_file():
        _recreate(run, pool, creation, config, round_)
        return
    real = load_all(run.train_set)
    pool.replace({"image": load_tensors(path)["image"].float() / 255, "caption": list(real["caption"]),
                  "id": list(real["id"])})


def _mixed_batch(run: HeadTraining, real_source, pool: SyntheticPool | None, creation: PerceptionModel,
                 config: ImproveConfig) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """One batch of real + synthetic samples with labels, and the features both heads read."""
    num_syn = 0 if pool is None else int(round(config.batch_size * (1 - config.real_fraction)))
    real = real_source.next(config.batch_size - num_syn)
    if not num_syn:
        return real, real_source.features(real)
    syn = pool.next(num_syn)
    real_feats = real_source.features(real) if real_source.cache is not None else None
    syn_feats = pool.features(syn)
    if real_feats is None or syn_feats is None:  # streamed: one UNet pass over both halves together
        both = features_of(run.backbone, {"image": torch.cat([real["image"], syn["image"]]),
                                          "caption": list(real["caption"]) + list(syn["caption"])})
        real_feats, syn_feats = [f[: len(real["image"])] for f in both], [f[len(real["image"]) :] for f in both]
    size = tuple(real["image"].shape[-2:])
    if config.labels == "theta_c":
        mirror = _mirror_features(run, pool, syn) if config.label_mirror else None
        syn.update(label_with(creation, syn_feats, size, config.confidence_drop, mirror))
    batch = {"image": torch.cat([real["image"], syn["image"]]), "mask": {}}
    for task in run.tasks:
        batch[task] = torch.cat([real[task], syn[task]])
        batch["mask"][task] = torch.cat([real["mask"][task], syn["mask"][task]])
    return batch, [torch.cat([a, b]) for a, b in zip(real_feats, syn_feats)]


def _mirror_features(run: HeadTraining, pool: SyntheticPool, syn: dict[str, Any]) -> list[torch.Tensor]:
    """Features of the synthetic samples' mirror images: from the cache, or one more UNet pass."""
    flipped = syn.get("flipped", torch.zeros(len(syn["image"]), dtype=torch.bool))
    if pool.cache is not None and pool.cache.with_flip:
        return pool.cache.get(syn["index"], ~flipped.cpu())
    return features_of(run.backbone, {"image": syn["image"].flip(-1), "caption": syn["caption"]})


def train_improve(config: ImproveConfig) -> Path:
    """Run the self-improving stage; the run folder's checkpoint/ holds θE (model) and θC (creation)."""
    out = Path(config.out)
    if not config.resume and (out / "train_state").exists():
        raise FileExistsError(f"{out}: a run already exists there; pass --resume to continue it or choose --out")
    run = HeadTraining(config, out)
    write_yaml(out / "config.yaml", config_to_dict(config))
    model, ema = _load_heads(run, config)
    optimizer, schedule = make_optimizer(model, config.lr, config.weight_decay, config.steps, config.lr_warmup)
    step = resume_train_state(out, {"model": model, "creation": ema.shadow}, optimizer, schedule) if config.resume else 0
    ema.shadow.to(run.accelerator.device)
    real_source, pool = run.source(run.train_set, step), _synthetic_pool(run, config, step)
    if pool is not None and config.recreate_every and step > config.recreate_every and step % config.recreate_every:
        _resume_online_round(run, pool, ema.shadow, config, step)
    labeller = ema.shadow
    if config.teacher:
        labeller = load_perception(config.teacher, tasks=run.tasks, which="model")[0].eval().to(run.accelerator.device)
    log, eval_log = CsvLog(out / "log.csv"), CsvLog(out / "eval.csv")
    bar = tqdm(total=config.steps, initial=step, desc="improve", disable=not config.progress)
    start = time.time()
    while step < config.steps:
        if pool is not None and config.recreate_every and step and step % config.recreate_every == 0:
            _recreate(run, pool, ema.shadow, config, step // config.recreate_every)
        model.train()
        batch, features = _mixed_batch(run, real_source, pool, labeller, config)
        with run.accelerator.autocast():
            loss, logs = model.loss(model(features, tuple(batch["image"].shape[-2:])), batch)
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
            save_perception(out / "checkpoint", model, {**run.info(), "stage": "improve", "step": step}, creation=ema.shadow)
    bar.close()
    metrics = run.evaluate({"theta_e": model, "theta_c": ema.shadow})
    write_json(out / "metrics.json", {"split": config.eval_split, "step": step, "metrics": metrics})
    return out
