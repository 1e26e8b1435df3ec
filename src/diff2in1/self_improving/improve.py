"""`diff2in1 improve`: the self-improving stage (paper, section 3).

θE (exploitation) is trained on real samples (ground truth) and on samples without ground truth (created
images, real unlabelled images) whose targets come from θC (creation), an EMA of θE. The teacher knows
more than the student: θC averages its predictions over several views of a sample (mirror, crops, noise
draws: ``teacher_views``) while θE sees one perturbed view; targets are soft (``pseudo_loss.py``). Real
samples get the same views, so the control (``--pseudo-batch-size 0``) has the same augmentation.
The frozen UNet runs once per (image, view); with ``--cache-features`` each pair is computed once, and not
at all for the image and its mirror when the warm-up cached them in the same ``--cache-dir``. When
the warm-up trained the backbone (``--train-backbone lora|full``) improve trains it on: θC is the EMA of
θE's heads and trained UNet weights, the student's features are streamed through θE's UNet with
gradients, and θC labels and is scored with its own UNet weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from ..config import config_to_dict
from ..fileio import write_json, write_yaml
from ..heads import PerceptionModel
from ..perception.checkpoint import load_perception, load_unet_weights, read_perception_info, save_perception
from ..perception.evaluation import FeatureSource, evaluate_each_on_its_weights
from ..perception.splits import unlabelled_subset
from ..training.backbone_training import average_gradients, param_groups
from ..training.ema import EMA
from ..training.feature_cache import FeatureCache
from ..training.fit import fit
from ..training.head_training import HeadTraining
from ..training.loop import (
    RunLog,
    flat_metrics,
    make_optimizer,
    resume_train_state,
    rng_states,
    save_train_state,
)
from ..training.samples import dataset_ids, open_samples
from ..training.step import TrainStep, shard
from .config import ImproveConfig
from .pools import Pool, concat_unlabelled, created_dataset, make_store, student_views, unlabelled_dataset
from .pseudo_loss import pseudo_loss
from .teacher import HeadEnsemble, TargetBank, ensemble_targets, targets_in_view
from .views import CLEAN, MIRROR, SECOND_NOISE, ViewBank, shifted_views, warp_targets


def with_warmup_taps(config: ImproveConfig) -> ImproveConfig:
    """The warm-up's feature taps: its heads read those features (an explicit other choice is an error)."""
    info = read_perception_info(config.warmup)
    taps = info.get("backbone", {}).get("feature_taps", "decoder")
    if config.feature_taps not in (taps, ImproveConfig().feature_taps):
        raise ValueError(f"{Path(config.warmup) / 'perception.json'}: the warm-up's heads read the '{taps}' feature "
                         f"taps, not '{config.feature_taps}'; drop --feature-taps or warm up with it")
    return dataclasses.replace(config, feature_taps=taps)


def teacher_view_list(config: ImproveConfig) -> list[int]:
    return {"all": list(range(config.views)), "flip": [CLEAN, MIRROR], "flip_shifts": [CLEAN, MIRROR, *shifted_views(8)],
            "clean": [CLEAN], "noise": [SECOND_NOISE]}[config.teacher_views]


class HeadsAndUNet(torch.nn.Module):
    """What θC averages when the backbone trains: the heads and the UNet's trained weights."""

    def __init__(self, heads: PerceptionModel, unet: torch.nn.Module):
        super().__init__()
        self.heads, self.unet = heads, unet


def _load_heads(run: HeadTraining, config: ImproveConfig) -> tuple[PerceptionModel, EMA, HeadsAndUNet | None]:
    """θE, θC as the EMA of θE, and what the EMA averages when the backbone trains (θE's heads and trained
    UNet weights; None when only the heads train)."""
    model, _ = load_perception(config.warmup, tasks=run.tasks, which="model")
    theta_c, _ = load_perception(config.warmup, tasks=run.tasks, which="theta_c")
    model = model.to(run.accelerator.device)
    if run.trained is None:
        ema = EMA(model, decay=config.ema_decay, every=config.ema_every, warmup=config.ema_warmup)
        ema.shadow.load_state_dict(theta_c.state_dict())
        return model, ema, None
    where = str(Path(config.warmup) / "model_unet.safetensors")
    run.trained.load_state_dict(load_unet_weights(config.warmup, "model"), where=where)
    averaged = HeadsAndUNet(model, run.trained.module)
    ema = EMA(averaged, decay=config.ema_decay, every=config.ema_every, warmup=config.ema_warmup)
    ema.shadow.heads.load_state_dict(theta_c.state_dict())
    theta_c_unet = load_unet_weights(config.warmup, "theta_c")
    with torch.no_grad():
        for name, param in ema.shadow.unet.tensors().items():
            param.copy_(theta_c_unet[name])
    return model, ema, averaged


def theta_c_heads(ema: EMA) -> PerceptionModel:
    return ema.shadow.heads if isinstance(ema.shadow, HeadsAndUNet) else ema.shadow


def theta_c_unet(run: HeadTraining, ema: EMA) -> contextlib.AbstractContextManager:
    """θC's UNet weights for the block when the backbone trains (θE's are back after it)."""
    if run.trained is None:
        return contextlib.nullcontext()
    return run.trained.weights(ema.shadow.unet.tensors())


def _teacher(run: HeadTraining, config: ImproveConfig, theta_c: PerceptionModel) -> torch.nn.Module:
    """What labels the samples without ground truth: θC, with ``teacher_heads`` averaged in (or ``teacher``)."""
    def fixed(path: str) -> PerceptionModel:
        return load_perception(path, tasks=run.tasks, which="model")[0].eval().to(run.accelerator.device)

    if run.trained is not None and (config.teacher or config.teacher_heads):
        raise ValueError("--teacher and --teacher-heads label with other checkpoints' heads, which would need "
                         "their own trained UNets; with a warm-up that trained its backbone θC labels alone")
    if config.teacher:
        return fixed(config.teacher)
    if config.teacher_heads:
        return HeadEnsemble([theta_c, *(fixed(path) for path in config.teacher_heads)])
    return theta_c


def _pools(run: HeadTraining, config: ImproveConfig, bank: ViewBank) -> tuple[Pool, Pool | None]:
    """The real labelled pool and the pool without ground truth (created + unlabelled; None = control)."""
    views = student_views(config.views)
    real_pool = Pool("labelled", _store(run, run.train_set, bank, config), config.seed, views)
    if not config.pseudo_batch_size:
        return real_pool, None
    full = run.train_set.dataset
    excluded = {"labelled (--num-labelled)": set(run.train_set.indices),
                "for validation (--val-fraction)": set(getattr(run.val_set, "indices", []) or [])}
    if config.num_labelled:
        excluded["as the 'unlabelled' evaluation split"] = set(
            unlabelled_subset(full, config.num_labelled, config.labelled_seed).indices)
    unlabelled = unlabelled_dataset(config, full, excluded, run.backbone.sample_size)
    labelled_ids = set(dataset_ids(run.train_set))
    pool_ids = set(dataset_ids(unlabelled)) if unlabelled is not None else set()
    created = created_dataset(config, run.tasks, run.backbone.sample_size, labelled_ids, pool_ids)
    if config.unlabelled_labels == "ground_truth":
        if created is not None:
            raise ValueError("--unlabelled-labels ground_truth (the oracle) trains on real labels alone; drop --synthetic")
        samples = unlabelled
    elif config.labels == "stored":
        if created is None or unlabelled is not None:
            raise ValueError("--labels stored takes its labels from --synthetic alone; drop --unlabelled")
        samples = created
    else:
        samples = concat_unlabelled([created, unlabelled])
    if samples is None:
        raise ValueError("--pseudo-batch-size > 0 needs samples without ground truth: --synthetic and/or --unlabelled")
    return real_pool, Pool("pseudo", _store(run, samples, bank, config), config.seed + 1, views)


def _store(run: HeadTraining, dataset, bank: ViewBank, config: ImproveConfig) -> FeatureCache:
    """Features of ``dataset``'s views; its rows stay in memory unless features are cached on disk."""
    samples = open_samples(dataset, config.cache_storage == "ram", config.num_workers)
    return make_store(run.backbone, samples, bank, config, run.feature_entries)


def _real_loss(trainer: TrainStep, pool: Pool, step: int, size: int, device) -> tuple[torch.Tensor, dict]:
    rows, views, params = pool.draw(size, step, shard(size, trainer.accelerator))
    features = pool.store.get(rows, views)
    targets = warp_targets(pool.labels(rows, device), params)
    preds = trainer.model(features, pool.size)  # through DDP: gradients synchronise
    return trainer.plain.loss(preds, targets)


def _pseudo_targets(trainer: TrainStep, teacher: torch.nn.Module, pool: Pool, step: int, config: ImproveConfig,
                    device, bank: TargetBank | None, teacher_unet: Callable[[], contextlib.AbstractContextManager]):
    """This process's pseudo rows of the step, and θC's targets for them (None: they have real labels)."""
    rows, views, params = pool.draw(config.pseudo_batch_size, step, shard(config.pseudo_batch_size, trainer.accelerator))
    if config.labels == "stored" or config.unlabelled_labels == "ground_truth":
        return rows, views, params, None
    with teacher_unet():
        if bank is not None:
            if step % config.teacher_every == 0 or not bank.filled:  # a resumed run refreshes at once
                bank.refresh(teacher)
            return rows, views, params, bank.get(rows, device)
        full = ensemble_targets(teacher, pool.store, rows, teacher_view_list(config), pool.size,
                                config.teacher_flip_weight)
    return rows, views, params, full


def _pseudo_loss(trainer: TrainStep, pool: Pool, drawn, config: ImproveConfig, device) -> tuple[torch.Tensor, dict]:
    model = trainer.plain
    rows, views, params, full = drawn
    preds = trainer.model(pool.store.get(rows, views), pool.size)
    if full is None:
        loss, logs = model.loss(preds, warp_targets(pool.labels(rows, device), params))
        return loss, {f"pseudo/{k}": v for k, v in logs.items()}
    return pseudo_loss(model, preds, targets_in_view(full, params), config.soft_labels, config.cos_mask,
                       config.semseg_threshold, config.pseudo_tasks)


def step_loss(trainer: TrainStep, teacher: torch.nn.Module, pools: tuple[Pool, Pool | None], step: int,
              config: ImproveConfig, device, bank: TargetBank | None = None,
              teacher_unet: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """This process's loss on its rows of the step's real and pseudo batches (both global sizes).

    θC labels first: with a trained backbone ``teacher_unet`` swaps θC's UNet weights in and out, which
    must happen before the student's forward keeps θE's for its backward.
    """
    real_pool, pseudo_pool = pools
    drawn = None
    if pseudo_pool is not None:
        drawn = _pseudo_targets(trainer, teacher, pseudo_pool, step, config, device, bank, teacher_unet)
    loss, logs = _real_loss(trainer, real_pool, step, config.batch_size, device)
    if pseudo_pool is not None:
        extra, extra_logs = _pseudo_loss(trainer, pseudo_pool, drawn, config, device)
        loss = loss + config.pseudo_weight * extra
        logs = {**logs, **extra_logs, "total": float(loss.detach())}
    return loss, logs


def eval_features(run: HeadTraining, config: ImproveConfig, bank: ViewBank) -> FeatureSource:
    """The evaluation split's features from its own view cache: periodic evaluations compute them once."""
    store = _store(run, run.eval_set, bank, config)
    return lambda batch, rows, view: store.get(rows, torch.full_like(rows, view))


def _target_bank(run: HeadTraining, config: ImproveConfig, pseudo: Pool | None) -> TargetBank | None:
    """θC's targets of the whole pool, when they are refreshed every few steps (on disk with a disk cache)."""
    if pseudo is None or config.teacher_every <= 1 or config.labels != "theta_c" \
            or config.unlabelled_labels != "theta_c":
        return None
    folder = _bank_folder(run) if config.cache_storage == "disk" else None
    return TargetBank(pseudo.store, teacher_view_list(config), pseudo.size, folder=folder,
                      flip_weight=config.teacher_flip_weight)


def _bank_folder(run: HeadTraining) -> Path:
    """Where this process keeps θC's targets on disk (each process its own; removed when the run ends)."""
    return run.out / ".teacher_targets" / f"process{run.accelerator.process_index}"


def _remove_bank(run: HeadTraining) -> None:
    shutil.rmtree(_bank_folder(run), ignore_errors=True)
    with contextlib.suppress(OSError):  # another process may still hold its own
        _bank_folder(run).parent.rmdir()


def _modules(run: HeadTraining, model: PerceptionModel, ema: EMA) -> dict[str, torch.nn.Module]:
    """What the train state holds: θE, θC and, when the backbone trains, θE's UNet weights."""
    return {"model": model, "theta_c": ema.shadow, **({"unet": run.trained.module} if run.trained is not None else {})}


def _save(run: HeadTraining, trainer: TrainStep, ema: EMA, config: ImproveConfig) -> None:
    rng = rng_states(run.accelerator)  # a collective: every process takes part, the main one writes
    if run.writes:
        save_train_state(run.out, _modules(run, trainer.plain, ema), trainer.optimizer, trainer.schedule,
                         trainer.steps, ema=ema, data=run.data_order(), rng=rng)
        unet = None if run.trained is None else {"model": run.trained.state_dict(),
                                                 "theta_c": {k: v.detach() for k, v in ema.shadow.unet.tensors().items()}}
        save_perception(run.out / "checkpoint", trainer.plain, {**run.info(), "stage": "improve", "step": trainer.steps,
                                                                "preset": config.preset or "default"},
                        theta_c=theta_c_heads(ema), unet=unet)


def _start(config: ImproveConfig) -> tuple[HeadTraining, TrainStep, EMA]:
    out = Path(config.out)
    if not config.resume and (out / "train_state").exists():
        raise FileExistsError(f"{out}: a run already exists there; pass --resume to continue it or choose --out")
    trained = read_perception_info(config.warmup)["backbone"].get("trained")  # improve trains what the warm-up did
    run = HeadTraining(config, out, train_backbone=trained)
    if run.writes:
        write_yaml(out / "config.yaml", config_to_dict(config))
    model, ema, averaged = _load_heads(run, config)
    optimizer, schedule = make_optimizer(model, config.lr, config.weight_decay, config.steps, config.lr_warmup,
                                         config.lr_schedule,
                                         extra_groups=param_groups(run.trained, config.lr, config.backbone_lr_scale))
    step = resume_train_state(out, _modules(run, model, ema), optimizer, schedule, ema=ema,
                              data=run.data_order(), accelerator=run.accelerator) if config.resume else 0
    trainer = TrainStep(run.accelerator, model, optimizer, schedule, ema=ema, steps=step,
                        ema_of=averaged,
                        after_backward=lambda: average_gradients(run.trained, run.accelerator))
    return run, trainer, ema


def train_improve(config: ImproveConfig) -> Path:
    """Run the self-improving stage; the run folder's checkpoint/ holds θE (model) and θC (theta_c)."""
    config = with_warmup_taps(config)
    run, trainer, ema = _start(config)
    bank = ViewBank(config.views, config.crop_min_scale, config.jitter, config.seed, config.view_shift)
    pools = _pools(run, config, bank)
    theta_c = theta_c_heads(ema)  # θC, the EMA of θE
    teacher = _teacher(run, config, theta_c)
    target_bank = _target_bank(run, config, pools[1])
    log = RunLog(run.accelerator, run.out, "improve", config, trainer.steps)
    device = run.accelerator.device
    evaluation = eval_features(run, config, bank)

    def loss(step: int) -> tuple[torch.Tensor, dict[str, float]]:
        with trainer.autocast():
            return step_loss(trainer, teacher, pools, step, config, device, target_bank,
                             teacher_unet=lambda: theta_c_unet(run, ema))

    def both(flip: bool = False) -> dict[str, dict]:
        """θE's and θC's metrics, each on its own UNet weights when the backbone trains."""
        def weights_of(name: str) -> contextlib.AbstractContextManager:  # θE's are the live ones
            return theta_c_unet(run, ema) if name == "theta_c" else contextlib.nullcontext()

        return evaluate_each_on_its_weights(lambda some: run.evaluate(some, flip=flip, features=evaluation),
                                            {"theta_e": trainer.plain, "theta_c": theta_c},
                                            None if run.trained is None else weights_of)

    def evaluate() -> dict[str, float]:
        metrics = both()
        return {**flat_metrics(metrics.get("theta_e", {}), "E:"), **flat_metrics(metrics.get("theta_c", {}), "C:")}

    fit(run.plan(), trainer, log, "improve", loss, evaluate, save=lambda: _save(run, trainer, ema, config))
    _remove_bank(run)
    metrics = both(flip=config.eval_flip)
    if run.writes:
        write_json(run.out / "metrics.json", {"split": config.eval_split, "step": trainer.steps,
                                              "preset": config.preset or "default", "metrics": metrics})
    log.close()
    return run.out
