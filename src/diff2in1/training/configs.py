"""The options of the training engine's commands (`pretrain`, `warmup`), one dataclass each, and the options
every head-training command shares (``HeadTrainingConfig``).

Kept apart from the training code so that building the command line (`diff2in1 --help`) imports
neither torch nor diffusers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import option


@dataclass
class PretrainConfig:
    data: str = option("data/rooms", "image folder: the project layout (its train split) or a flat folder")
    out: str = option("~/.cache/diff2in1/pretrain/rooms64", "run folder: checkpoint/, samples/, model/, log.csv")
    size: int = option(64, "training resolution (images are centre-cropped and resized)")
    steps: int = option(20000, "optimizer steps in total (a resumed run continues to this number)")
    batch_size: int = option(64, "images per optimizer step, all processes together (each takes an equal share)")
    lr: float = option(2e-4, "peak AdamW learning rate (cosine schedule after a linear warm-up)")
    warmup_steps: int = option(500, "linear learning-rate warm-up steps")
    ema_decay: float = option(0.999, "EMA keep rate of the weights that are exported")
    block_out_channels: list[int] = option([32, 64, 128, 128], "UNet2DModel channels per resolution level")
    layers_per_block: int = option(2, "ResNet layers per UNet block")
    attention_levels: list[int] = option([2, 3], "levels (0 = full resolution) with self-attention")
    beta_schedule: str = option("squaredcos_cap_v2", "noise schedule of the DDPM scheduler")
    mixed_precision: str = option("no", "accelerate mixed precision: no, fp16 or bf16", choices=["no", "fp16", "bf16"])
    sample_every: int = option(2000, "write a grid of samples every N steps")
    checkpoint_every: int = option(1000, "write a resumable checkpoint every N steps")
    max_minutes: float = option(0.0, "stop cleanly (checkpoint + export) after this many minutes; 0 = no limit")
    limit: int = option(0, "use at most this many images (0 = all)")
    seed: int = option(0, "random seed")
    log_with: str = option("", "also log to accelerate trackers, comma-separated (tensorboard, wandb, ...; "
                           "empty = log.csv only); files go under the run folder")


@dataclass
class HeadTrainingConfig:
    """The options every head-training command reads (warm-up, improve): backbone, data, labelled subset,
    optimizer, evaluation, checkpoints, feature cache."""

    data: str = option("data/rooms", "data-set root")
    dataset: str = option("rooms", "data-set reader: rooms, folder, nyuv2_normals, nyuv2, ade20k, nyud_mt, pascal_context")
    tasks: list[str] = option([], "tasks to train (normal, depth, semseg, edge, saliency, human_parts); empty = "
                              "all the data set has")
    backbone: str = option("embedded", "'embedded' (shipped rooms model), a diffusers folder, a hub id or a .safetensors file")
    backbone_kind: str = option("auto", "stable_diffusion, pixel or auto", choices=["auto", "stable_diffusion", "pixel"])
    timestep: int = option(0, "noise timestep of the perception pass (the release uses 0)")
    feature_taps: str = option("decoder", "UNet blocks whose outputs feed the heads: decoder (every up block) or "
                               "release (every down block, the middle block and every up block, as the official "
                               "release); improve and predict take the warm-up's", choices=["decoder", "release"])
    out: str = option("runs/warmup", "run folder: config.yaml, log.csv, eval.csv, checkpoint/, metrics.json")
    num_labelled: int = option(0, "use this many labelled training images (fixed random subset; 0 = all)")
    labelled_seed: int = option(0, "seed choosing the labelled subset (kept apart from --seed so seeds share it)")
    val_fraction: float = option(0.0, "part of the labelled images held out for validation (model selection)")
    steps: int = option(1000, "optimizer steps")
    batch_size: int = option(8, "images per optimizer step, all processes together (each takes an equal share)")
    lr: float = option(3.57e-4, "peak learning rate (the release's warm-up rate)")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    lr_warmup: int = option(50, "linear learning-rate warm-up steps")
    crop_min_scale: float = option(1.0, "random resized crop: smallest side fraction (1 = off)")
    jitter: float = option(0.0, "colour jitter strength (0 = off)")
    eval_every: int = option(0, "evaluate on the evaluation split every N steps (0 = only at the end)")
    eval_split: str = option("test", "split for periodic and final evaluation: test, 'val' (the held-out part of the "
                             "labelled images) or 'unlabelled' (up to 250 training images outside --num-labelled)")
    checkpoint_every: int = option(500, "save a resumable state every N steps")
    resume: bool = option(False, "continue from out/train_state if it exists")
    cache_features: bool = option(True, "compute each image's features once (frozen backbone; flips only)")
    cache_dir: str = option("", "folder of cached features, one file per image and view, reused by later runs: "
                            "improve reads the warm-up's image and mirror features from the same folder (empty: "
                            "none with --cache-storage ram, OUT/features with disk)")
    cache_storage: str = option("ram", "where cached features live: ram (and in --cache-dir when given), or disk "
                                "(read from --cache-dir's files per batch: RAM does not grow with the data set; "
                                "processes on one machine share them; improve then also reads its samples when "
                                "needed and keeps θC's targets on disk)", choices=["ram", "disk"])
    num_workers: int = option(0, "DataLoader worker processes reading samples (streamed and disk-cached data)")
    log_with: str = option("", "also log to accelerate trackers, comma-separated (tensorboard, wandb, ...; "
                           "empty = log.csv and eval.csv only); files go under the run folder")
    mixed_precision: str = option("no", "accelerate mixed precision", choices=["no", "fp16", "bf16"])
    seed: int = option(0, "seed of the labelled subset, the batch order and augmentation")
    progress: bool = option(True, "show progress bars")
    backbone_lr_scale: float = option(0.01, "learning rate of the UNet's weights under --train-backbone full, as a "
                                      "share of --lr (VPD's 0.01); LoRA adapters train at --lr")
    gradient_checkpointing: bool = option(False, "recompute the trained UNet's activations in backward: less memory "
                                          "(Stable Diffusion on one GPU), slower steps")


@dataclass
class WarmupConfig(HeadTrainingConfig):
    """`diff2in1 warmup`: a fresh aggregator and heads (their size) and the warm-up's augmentation."""

    channels: int = option(64, "width of the aggregator and heads")
    fuse_stride: int = option(4, "3x3 fusion at feature strides >= this; finer maps through 1x1 only (1 = all, slow)")
    max_depth: float = option(10.0, "depth head range in metres")
    loss_weighting: str = option("fixed", "how task losses add up: fixed (each task's default weight, as the "
                                 "multi-task works) or uncertainty (Kendall et al.'s learned log-variances); "
                                 "improve keeps the warm-up's", choices=["fixed", "uncertainty"])
    flip: bool = option(True, "random horizontal flips (normals' x negated)")
    train_backbone: str = option("none", "what of the diffusion UNet trains with the heads: none (the release: frozen "
                                 "features, cached), lora (peft adapters) or full (every weight, at "
                                 "--backbone-lr-scale); improve continues what the warm-up trained",
                                 choices=["none", "lora", "full"])
    init_heads: str = option("", "start the aggregator and heads from this perception checkpoint's θE (same tasks "
                             "and head size) instead of afresh: e.g. heads warmed up on the frozen backbone, "
                             "then trained on with --train-backbone (VPD's two stages)")
    lora_rank: int = option(8, "rank of the LoRA adapters (--train-backbone lora)")
    lora_alpha: float = option(8.0, "LoRA scale numerator: the adapters' update is scaled by alpha / rank")
    lora_targets: list[str] = option(["to_q", "to_k", "to_v", "to_out.0", "conv1", "conv2"],
                                     "UNet module names that get adapters (attention projections and ResNet convs)")
