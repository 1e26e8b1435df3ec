"""The options of the training commands (`pretrain`, `warmup`, `improve`), one dataclass each.

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
class WarmupConfig:
    data: str = option("data/rooms", "data-set root")
    dataset: str = option("rooms", "data-set reader: rooms, folder, nyuv2_normals, nyuv2, ade20k, nyud_mt, pascal_context")
    tasks: list[str] = option([], "tasks to train (normal, depth, semseg); empty = all the data set has")
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
    channels: int = option(64, "width of the aggregator and heads")
    fuse_stride: int = option(4, "3x3 fusion at feature strides >= this; finer maps through 1x1 only (1 = all, slow)")
    max_depth: float = option(10.0, "depth head range in metres")
    flip: bool = option(True, "random horizontal flips (normals' x negated)")
    crop_min_scale: float = option(1.0, "random resized crop: smallest side fraction (1 = off)")
    jitter: float = option(0.0, "colour jitter strength (0 = off)")
    eval_every: int = option(0, "evaluate on the evaluation split every N steps (0 = only at the end)")
    eval_split: str = option("test", "split for periodic and final evaluation: test, 'val' (the held-out part of the "
                             "labelled images) or 'unlabelled' (up to 250 training images outside --num-labelled)")
    checkpoint_every: int = option(500, "save a resumable state every N steps")
    resume: bool = option(False, "continue from out/train_state if it exists")
    cache_features: bool = option(True, "compute each image's features once (frozen backbone; flips only)")
    cache_dir: str = option("", "folder of cached features, reused by later runs (empty: none with --cache-storage "
                            "ram, OUT/features with disk)")
    cache_storage: str = option("ram", "where cached features live: ram, or disk (memory-mapped files: RAM does not "
                                "grow with the data set; processes on one machine share them; improve then also "
                                "reads its samples when needed and keeps θC's targets on disk)", choices=["ram", "disk"])
    num_workers: int = option(0, "DataLoader worker processes reading samples (streamed and disk-cached data)")
    log_with: str = option("", "also log to accelerate trackers, comma-separated (tensorboard, wandb, ...; "
                           "empty = log.csv and eval.csv only); files go under the run folder")
    mixed_precision: str = option("no", "accelerate mixed precision", choices=["no", "fp16", "bf16"])
    seed: int = option(0, "seed of the labelled subset, the batch order and augmentation")
    progress: bool = option(True, "show progress bars")



@dataclass
class ImproveConfig(WarmupConfig):
    out: str = option("runs/improve", "run folder: config.yaml, log.csv, eval.csv, checkpoint/ (θE + θC), metrics.json")
    warmup: str = option("runs/warmup/checkpoint", "warm-up checkpoint to start θE and θC from")
    preset: str = option("", "settings of a named recipe, applied before the other options: 'release' (the "
                         "official release's stage 2: hard labels, 4 real + 4 created per step, no augmentation, "
                         "a second noise draw for θC, cos < 0.999 mask, EMA 0.998 every 10, constant lr)",
                         choices=["", "release"])
    synthetic: str = option("runs/synthetic", "created data set (diff2in1 create) in the project layout; empty = none")
    synthetic_from: str = option("any", "use only created samples whose source is labelled, unlabelled (in the pool "
                                 "below), or any", choices=["any", "labelled", "unlabelled"])
    unlabelled: str = option("", "real images without labels, labelled by θC: 'split' (training images outside the "
                             "labelled subset and outside the 'unlabelled' evaluation split) or a folder of images")
    unlabelled_limit: int = option(0, "use at most this many unlabelled images (0 = all)")
    unlabelled_labels: str = option("theta_c", "diagnostic: ground_truth trains on the unlabelled images' real labels "
                                    "(the oracle; needs a labelled --unlabelled folder or 'split')",
                                    choices=["theta_c", "ground_truth"])
    pseudo_batch_size: int = option(8, "samples without ground truth (created + unlabelled) per step, beside "
                                    "--batch-size real ones; 0 = real only (the control)")
    pseudo_weight: float = option(1.0, "weight of the loss on θC's targets against the real loss")
    pseudo_tasks: list[str] = option([], "tasks trained on θC's targets (soft targets; empty = every task): e.g. "
                                     "normal depth, leaving segmentation to the real labels")
    semseg_threshold: float = option(0.0, "segmentation targets only where θC's top class probability reaches this "
                                     "(FixMatch's confidence threshold; 0 = every pixel)")
    labels: str = option("theta_c", "targets of created samples: theta_c (re-predicted each step) or stored "
                         "(from create; unlabelled images always use θC)", choices=["theta_c", "stored"])
    soft_labels: bool = option(True, "train on θC's soft targets (probabilities, κ-weighted normals, per-image "
                               "depth SILog); off = θC's hard labels with the ground-truth losses (the release)")
    views: int = option(6, "views per image: 1 = the image only, 2 = and its mirror, more = and perturbed crops "
                        "(--crop-min-scale, --jitter, own noise draw); the student sees one at random per step")
    teacher_views: str = option("all", "views θC averages for its targets: all (every view), flip (image + "
                                "mirror), flip_shifts (image + mirror, each also moved diagonally by --view-shift "
                                "in four directions: the same camera), clean (the student's own view of the "
                                "image), noise (the image with another noise draw)",
                                choices=["all", "flip", "flip_shifts", "clean", "noise"])
    view_shift: float = option(1 / 32, "shifted views (--teacher-views flip_shifts): the move, a share of the image "
                               "side (2 pixels at 64: on validation better than 4 or 8, bench/teacher_views.py)")
    teacher_flip_weight: float = option(1.0, "weight of the image and its mirror in θC's ensemble against each "
                                        "perturbed crop (crops are θC's weaker views: bench/teacher_views.py)")
    unet_batch_size: int = option(8, "images per frozen-UNet pass when views' features are computed (θC's ensemble, "
                                  "evaluation): bounds a pass's memory, which at Stable Diffusion size grows by GBs per image")
    teacher_every: int = option(1, "θC re-labels the samples without ground truth every N steps (1 = every step, as "
                                "the release; N > 1 labels the whole pool at once, cheaper, targets up to N steps old)")
    cos_mask: float = option(0.0, "drop pseudo-labelled normal pixels where student and θC agree above this "
                             "cosine (the release: 0.999; 0 = keep all)")
    crop_min_scale: float = option(0.7, "perturbed views: smallest crop side fraction")
    jitter: float = option(0.2, "perturbed views: colour jitter strength")
    ema_decay: float = option(0.998, "θC keep rate (1 = θC stays the warm-up model)")
    ema_every: int = option(1, "update θC every k steps")
    ema_warmup: bool = option(False, "Mean Teacher's EMA warm-up: keep rate min(decay, (1 + n) / (10 + n)) at update n")
    teacher: str = option("", "diagnostic, not Diff-2-in-1: label with this fixed perception checkpoint instead of θC")
    teacher_heads: list[str] = option([], "perception checkpoints averaged with θC in its targets: heads trained on "
                                      "the same labels with other seeds (diff2in1 warmup --seed N), a deep ensemble "
                                      "that knows more than one head (empty = θC alone)")
    lr: float = option(1e-4, "peak learning rate of θE")
    lr_warmup: int = option(100, "linear learning-rate warm-up steps of θE's fresh optimizer")
    lr_schedule: str = option("cosine", "learning rate after the warm-up: cosine (to 1%%) or constant",
                              choices=["cosine", "constant"])
    eval_flip: bool = option(True, "also report every head with flip test-time averaging (…_tta)")


RELEASE_PRESET = {"batch_size": 4, "pseudo_batch_size": 4, "soft_labels": False, "views": 1, "flip": False,
                  "teacher_views": "noise", "cos_mask": 0.999, "ema_decay": 0.998, "ema_every": 10,
                  "lr": 3.57e-4, "lr_warmup": 0, "lr_schedule": "constant", "labels": "theta_c"}
