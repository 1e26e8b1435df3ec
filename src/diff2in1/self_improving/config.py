"""The options of `diff2in1 improve`, and the release's recipe as a preset.

Kept apart from the method's code so that building the command line (`diff2in1 --help`) imports
neither torch nor diffusers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..config import option
from ..training.configs import HeadTrainingConfig

# The official release's stage 2; a layer under the options given (config.config_from_dict).
RELEASE_PRESET = {"batch_size": 4, "pseudo_batch_size": 4, "soft_labels": False, "views": 1,
                  "teacher_views": "noise", "cos_mask": 0.999, "ema_decay": 0.998, "ema_every": 10,
                  "lr": 3.57e-4, "lr_warmup": 0, "lr_schedule": "constant", "labels": "theta_c"}


@dataclass
class ImproveConfig(HeadTrainingConfig):
    """`diff2in1 improve`: θE and θC start from a warm-up checkpoint (its heads, their size and taps)."""

    presets: ClassVar[dict[str, dict[str, Any]]] = {"release": RELEASE_PRESET}
    out: str = option("runs/improve", "run folder: config.yaml, log.csv, eval.csv, checkpoint/ (θE + θC), metrics.json")
    warmup: str = option("runs/warmup/checkpoint", "warm-up checkpoint to start θE and θC from")
    preset: str = option("", "settings of a named recipe, applied before the other options: 'release' (the "
                         "official release's stage 2: hard labels, 4 real + 4 created per step, no augmentation, "
                         "a second noise draw for θC, cos < 0.999 mask, EMA 0.998 every 10, constant lr); "
                         "every option given explicitly overrides it",
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

