"""The benchmark's arms: each a set of `diff2in1 improve` options over the benchmark's own (BENCH_IMPROVE).

Placeholders are filled per (labels, seed) by bench/self_improve.py: {pool} (the unlabelled photos),
{created_pool[_stepsN]} and {created_labelled[_stepsN]} (images created from the photos or from the labelled
images, with an N-step DDIM schedule), {labelled_images} (the labelled images themselves, as a folder without
labels), {control} (the control's end, for arms that start there) and {heads[N][@S]} (extra warm-up heads).

Round 2 (same-step controls, chosen after results were seen):
  control        real only, 8 per step, same EMA and views as the student
  unlabelled     8 real + 8 real unlabelled images of the pool labelled by θC (the semi-supervised baseline)
  oracle         8 real + 8 pool images with their ground truth (the ceiling)
  created_pool   8 real + 8 created from the unlabelled pool's images (each seed its own set), θC's soft targets
  created_pool_weighted  the same with the best teacher (image and mirror weighted 5:1 over each crop)
  created_pool_weighted_stepsN  the same on images created with an N-step DDIM schedule (the creation cost)
  unlabelled_shifts  the pool labelled by θC averaging the image, its mirror and their 8 shifted views
  unlabelled_heads   the pool labelled by θC averaged with 3 heads warmed up on the same labels from other
                     seeds (warmup_k1..3: a deep-ensemble teacher); created_pool_heads on created images
  created        8 real + 8 created from the labelled images (the paper's data)
  release        the official release's stage 2 (--preset release) on images created from the labelled ones
  control16      real only, 16 per step (as many images per step as the arms with pseudo-labels)
  control_long   the control continued for 4500 more steps (as many as the extra heads' warm-ups)
  created_pool_head1_long  control_long's compute spent on the teacher and the stage: one extra head (1500
                 steps) and a 4500-step stage on created images; paired with control_long
  created_pool_heads3x1000_long  the same compute on three extra heads of 1000 steps and a 3000-step stage
  created_pool_heads3x1000_p16_long  that arm with 16 created images per step
  created_pool_heads6_geometry  created_pool_heads_geometry with five extra heads in the teacher, not three
  created_pool_heads_geometry_p16  created_pool_heads_geometry with 16 created images per step beside 8 real
  created_pool_heads_geometry_p16_stepsN  the same on images created with an N-step DDIM schedule (its cost)
  *_round2       a second stage from the control's end: control_round2 (real only, the fair control),
                 unlabelled_weighted_round2, oracle_round2
Round 3 (CONTRIBUTIONS, pre-registered in bench/preregistered/): the round-2 best arm's recipe (θC and three
extra heads averaging the image and its mirror, targets for normals and depth, 16 samples without ground
truth per step beside 8 real) with one source of extra images at a time, and that recipe with θC alone;
each is judged against its matched control (self_improve_matched.py).
Round 4 (LEARNING_ARM, pre-registered): θC alone on images created from the photos, with the UNet's LoRA
adapters training from {lora_warmup} (a warm-up that trained them), against its matched control from there.
"""

from __future__ import annotations

import re

POOL_SIZE = 500
STAGE2_STEPS = 1500  # 3x the EMA horizon 1 / (1 - 0.998) and as long as the warm-up
ARMS = {  # in the order they run: the comparisons that matter most first
    "control": {"pseudo_batch_size": 0, "synthetic": ""},
    "unlabelled": {"synthetic": "", "unlabelled": "{pool}"},
    "oracle": {"synthetic": "", "unlabelled": "{pool}", "unlabelled_labels": "ground_truth"},
    "created_pool": {"synthetic": "{created_pool}"},
    "created": {"synthetic": "{created_labelled}"},
    "release": {"preset": "release", "synthetic": "{created_labelled}"},
    "control16": {"pseudo_batch_size": 0, "synthetic": "", "batch_size": 16},
    # trials on validation: segmentation targets only where θC is sure (FixMatch's threshold); θC averaging
    # the image and its mirror only (bench/teacher_views.py: the crops make the warm-up's targets worse)
    "unlabelled_tau": {"synthetic": "", "unlabelled": "{pool}", "semseg_threshold": 0.9},
    "unlabelled_flip": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip"},
    # every view, the image and its mirror weighted 5:1 over each crop (the diagnostic's one lead)
    "unlabelled_weighted": {"synthetic": "", "unlabelled": "{pool}", "teacher_flip_weight": 5.0},
    # the two leads together: the weighted teacher for normals and depth, the threshold for segmentation
    "unlabelled_weighted_tau": {"synthetic": "", "unlabelled": "{pool}", "teacher_flip_weight": 5.0,
                                "semseg_threshold": 0.9},
    # a teacher whose extra views keep the camera: the image and its mirror, each also shifted by 2 pixels in
    # four diagonal directions (bench/teacher_views.py: better than 4 or 8 on validation), alone and with the
    # segmentation threshold
    "unlabelled_shifts": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip_shifts"},
    "unlabelled_shifts_tau": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip_shifts",
                              "semseg_threshold": 0.9},
    # a deep ensemble for a teacher: θC averaged with EXTRA_HEADS heads warmed up on the same labels from other
    # seeds (bench/teacher_views.py's head ensemble: 4 heads with flip averaging label 0.7° better than one)
    "unlabelled_heads": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip", "teacher_heads": "{heads}"},
    "created_pool_heads": {"synthetic": "{created_pool_steps5}", "teacher_views": "flip", "teacher_heads": "{heads}"},
    # the same, θC's targets for normals and depth only: its soft classes cost mIoU in every arm (rare classes)
    "unlabelled_heads_geometry": {"synthetic": "", "unlabelled": "{pool}", "teacher_views": "flip",
                                  "teacher_heads": "{heads}", "pseudo_tasks": ["normal", "depth"]},
    "created_pool_heads_geometry": {"synthetic": "{created_pool_steps5}", "teacher_views": "flip",
                                    "teacher_heads": "{heads}", "pseudo_tasks": ["normal", "depth"]},
    # Diff-2-in-1 proper with the shift teacher: images created from the pool's photos (5-step schedule, 4 UNet
    # calls each: at 25 labels as good as 16) instead of the photos
    "created_pool_shifts": {"synthetic": "{created_pool_steps5}", "teacher_views": "flip_shifts"},
    "created_pool_shifts_tau": {"synthetic": "{created_pool_steps5}", "teacher_views": "flip_shifts",
                                "semseg_threshold": 0.9},
    # Diff-2-in-1 proper with the best teacher: images created from the pool's photos instead of the photos
    "created_pool_weighted": {"synthetic": "{created_pool}", "teacher_flip_weight": 5.0},
}
# The creation-cost sweep: the same arm on images created with shorter DDIM schedules (the demo's is 25
# steps, 16 UNet calls per image at t* = 600; 5 steps make 4 calls, 10 make 7).
CREATION_SWEEP = (5, 10)
ARMS.update({f"created_pool_weighted_steps{n}": {"synthetic": f"{{created_pool_steps{n}}}", "teacher_flip_weight": 5.0}
             for n in CREATION_SWEEP})
# A second round: the same stage again from the control's end, when θC has trained on the labels for a whole
# stage (the warm-up's θC is what the control improves on by 0.3°; it labels the pool for the first 300
# steps). Its fair control is the control run again from the same start, and its ceiling the oracle likewise.
ROUND2 = {"control_round2": "control", "unlabelled_weighted_round2": "unlabelled_weighted",
          "oracle_round2": "oracle"}
ARMS.update({name: {**ARMS[first], "warmup": "{control}"} for name, first in ROUND2.items()})
# The deep-ensemble teacher's extra heads cost EXTRA_HEADS warm-ups of head training: a control given as many more
# steps (from its own end, real images only) had that compute too.
ARMS["control_long"] = {**ARMS["control"], "warmup": "{control}", "steps": 4500}
# The same compute spent the other way: one extra head (1500 steps) and a stage as long as the rest of
# control_long's budget, so that the student gains from the longer stage as control_long does.
ARMS["created_pool_head1_long"] = {**ARMS["created_pool_heads_geometry"], "teacher_heads": "{heads1}", "steps": 4500}
# Or on more, shorter heads: three extra heads of 1000 warm-up steps each and a 3000-step stage (3 x 1000 + 3000).
ARMS["created_pool_heads3x1000_long"] = {**ARMS["created_pool_heads_geometry"], "teacher_heads": "{heads3@1000}",
                                         "steps": 3000}
# and that arm with the best arm's 16 created images per step (the control's 8 real per step are unchanged).
ARMS["created_pool_heads3x1000_p16_long"] = {**ARMS["created_pool_heads3x1000_long"], "pseudo_batch_size": 16}
# Two ways to teach the student more at the same stage length: a wider ensemble (θC and five extra heads,
# training seeds 101-105; bench/teacher_views.py: its validation normals 0.92° better than one head's, four
# heads 0.74°), and twice as many created images per step beside the same 8 real ones.
ARMS["created_pool_heads6_geometry"] = {**ARMS["created_pool_heads_geometry"], "teacher_heads": "{heads5}"}
ARMS["created_pool_heads_geometry_p16"] = {**ARMS["created_pool_heads_geometry"], "pseudo_batch_size": 16}
# Its creation cost: the same arm on images created with the 10-step and the default 25-step schedule (7 and 16
# UNet calls per image; the arm's own set is made with 5 steps, 4 calls).
BEST_SWEEP = (10, 25)
ARMS.update({f"created_pool_heads_geometry_p16_steps{n}": {**ARMS["created_pool_heads_geometry_p16"],
                                                          "synthetic": f"{{created_pool_steps{n}}}"} for n in BEST_SWEEP})
TRIALS = ("unlabelled_tau", "unlabelled_flip", "unlabelled_weighted", "unlabelled_weighted_tau", "unlabelled_shifts",
          "unlabelled_shifts_tau", "created_pool_shifts", "created_pool_shifts_tau", "unlabelled_heads",
          "created_pool_heads", "unlabelled_heads_geometry", "created_pool_heads_geometry", "control_long",
          "created_pool_head1_long", "created_pool_heads3x1000_long", "created_pool_heads3x1000_p16_long",
          "created_pool_heads6_geometry",
          "created_pool_heads_geometry_p16", *(f"created_pool_heads_geometry_p16_steps{n}" for n in BEST_SWEEP),
          *(f"created_pool_weighted_steps{n}" for n in CREATION_SWEEP), *ROUND2)  # not in the default set
# The demo's improve section, made the benchmark's: longer, every view, pools set per arm.
# Features are read from files on disk (warm-up and stage 2): seeds running side by side share the page
# cache instead of each holding ~4 GB. The 100-label runs made before this ran with "ram": both storages
# train the same heads (tests/training/test_improve_stage.py).
BENCH_IMPROVE = {"steps": STAGE2_STEPS, "views": 6, "unlabelled": "", "unlabelled_limit": 0, "cache_storage": "disk"}
TEACHER_EVERY = 300  # θC labels the whole pool every 300 steps (its EMA horizon is 500): a CPU budget
DEMO_ARM = "unlabelled"  # the demo pools created and unlabelled images; the nearest arm measured
BEST_AT_100 = "created_pool_heads_geometry_p16"  # chosen on validation at 100 labels (self_improve_tables.best_arm)

# Round 3: what each part of the best arm's recipe is worth, each against its matched control.
ENSEMBLE_GEOMETRY_P16 = {"teacher_views": "flip", "teacher_heads": "{heads}", "pseudo_tasks": ["normal", "depth"],
                         "pseudo_batch_size": 16}
CONTRIBUTIONS = {
    # the ensemble's knowledge alone: its targets on the labelled images themselves, no image beyond them
    "labelled_heads_geometry_p16": {"synthetic": "", "unlabelled": "{labelled_images}", **ENSEMBLE_GEOMETRY_P16},
    # the paper's setting: images created from the labelled ones (5-step schedule, as the photos' set)
    "created_labelled_heads_geometry_p16": {"synthetic": "{created_labelled_steps5}", **ENSEMBLE_GEOMETRY_P16},
    # unlabelled photos, and images created from them (the round-2 best arm)
    "unlabelled_heads_geometry_p16": {"synthetic": "", "unlabelled": "{pool}", **ENSEMBLE_GEOMETRY_P16},
    BEST_AT_100: ARMS[BEST_AT_100],
    # the EMA teacher alone: the best arm without the extra heads
    "created_pool_geometry_p16": {k: v for k, v in ARMS[BEST_AT_100].items() if k != "teacher_heads"},
}
ARMS.update(CONTRIBUTIONS)

# Round 4 (pre-registered): the learning backbone. The trainable-backbone gate found LoRA on the UNet better than
# the heads alone (docs/perception/trainable_backbone.md); this arm starts from its recipe ({lora_warmup}: the
# seed's warm-up heads, then LORA_WARMUP_STEPS steps with rank-8 LoRA adapters) and continues the adapters in
# the improve stage. θC labels alone: extra heads on their own trained UNets are not an ensemble improve runs.
# Its matched control starts from the same LoRA warm-up.
LORA_WARMUP_STEPS = 300
LEARNING_ARM = "lora_created_pool_geometry_p16"
ARMS[LEARNING_ARM] = {"warmup": "{lora_warmup}", **CONTRIBUTIONS["created_pool_geometry_p16"]}


EXTRA_HEADS = 3  # heads beside θC in the deep-ensemble teacher, each warmed up with training seed 100 + k


# "{heads}": all EXTRA_HEADS extra heads; "{headsN}": the first N; "{headsN@S}": the first N, warmed up S steps each
HEADS_PLACEHOLDER = re.compile(r"\{heads(\d*)(?:@(\d+))?\}")


def heads_in(value) -> tuple[int, int | None]:
    """(how many extra heads, their warm-up steps or None for the warm-up's) one arm setting names; (0, None)
    when it is not a heads placeholder."""
    match = HEADS_PLACEHOLDER.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return 0, None
    return int(match[1] or EXTRA_HEADS), int(match[2]) if match[2] else None


def heads_wanted(arm: dict) -> tuple[int, int | None]:
    """(how many extra warm-up heads an arm's teacher averages, their steps); (0, None) for none."""
    return max((heads_in(value) for value in arm.values()), key=lambda found: found[0], default=(0, None))


def heads_key(steps: int | None) -> str:
    """Where one_seed's paths keep the extra heads of one warm-up length."""
    return "heads" if steps is None else f"heads@{steps}"


def is_reference(arm: str) -> bool:
    """Controls, oracles and the warm-up: what arms are measured against, never an arm to choose."""
    return arm == "warmup" or arm.startswith(("control", "oracle"))


def with_prerequisites(arms: tuple[str, ...], registry: dict[str, dict] | None = None) -> tuple[str, ...]:
    """The arms in order, the control first where a second round starts from its end."""
    needs_control = any("{control}" in (registry or ARMS)[name].values() for name in arms)
    return ("control", *(a for a in arms if a != "control")) if needs_control else arms


CREATED_SET = re.compile(r"\{(created_(pool|labelled)(?:_steps(\d+))?)\}")


def created_set(synthetic: str, default_steps: int) -> tuple[str, str, int] | None:
    """(folder name, "pool" or "labelled", DDIM steps) of an arm's created set ("{created_labelled_steps5}":
    created from the labelled images with a 5-step schedule), else None."""
    match = CREATED_SET.fullmatch(synthetic) if isinstance(synthetic, str) else None
    return (match[1], match[2], int(match[3]) if match[3] else default_steps) if match else None


def created_pool_steps(synthetic: str, default_steps: int) -> tuple[str, int] | None:
    """("created_pool[_stepsN]", N) of an arm whose synthetic set is created from the pool, else None."""
    found = created_set(synthetic, default_steps)
    return (found[0], found[2]) if found and found[1] == "pool" else None
