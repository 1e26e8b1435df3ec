"""The state a head-training run (warm-up, improve) starts from: accelerator, backbone, data splits.

The backbone is frozen unless ``train_backbone`` names a trained part (``backbone_training.py``): then
its features are streamed with gradients instead of cached.

The labelled training images (``--num-labelled``, less ``--val-fraction``), the evaluation split
(``--eval-split``) and the backbone are opened here, and any of them that comes out empty is refused
before training starts.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import cached_property
from pathlib import Path
from typing import Any

from ..backbones.adapters import attach_trained_unet
from ..heads import PerceptionModel
from ..perception.checkpoint import load_unet_weights
from ..perception.evaluation import FeatureSource, evaluate
from ..perception.splits import backbone_info, labelled_subsets, open_backbone, open_split, unlabelled_subset
from ..tasks import check_tasks
from .augment import Augmentation
from .configs import HeadTrainingConfig
from .feature_cache import FeatureEntries
from .fit import Plan
from .samples import require_samples
from .sources import BatchSource
from .step import make_accelerator, writes


class HeadTraining:
    """The state of a head-training run that warm-up and improve share: backbone, data splits, accelerator."""

    def __init__(self, config: HeadTrainingConfig, out: Path, train_backbone: dict[str, Any] | None = None):
        self.config, self.out = config, out
        self.accelerator = make_accelerator(config, out)
        self.backbone = open_backbone(config.backbone, config.backbone_kind, self.accelerator.device, config.timestep,
                                      config.feature_taps)
        self.trained = attach_trained_unet(self.backbone, train_backbone or {"mode": "none"}, config.seed,
                                           config.gradient_checkpointing)
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

    @property
    def cache_dir(self) -> str | None:
        """The feature cache's folder: --cache-dir, else OUT/features with --cache-storage disk, else none."""
        config = self.config
        return config.cache_dir or (str(self.out / "features") if config.cache_storage == "disk" else None)

    @cached_property
    def feature_entries(self) -> FeatureEntries:
        """The features improve's caches share: an image two pools (or a pool and the evaluation split) hold
        runs the UNet once; the warm-up's are found in the folder when both stages share --cache-dir."""
        return FeatureEntries(self.cache_dir, hold=self.config.cache_storage == "ram")

    def source(self, dataset, augmentation: Augmentation, start_step: int = 0) -> BatchSource:
        config, accelerator = self.config, self.accelerator
        trains = self.trained is not None  # a changing UNet: streamed features, with gradients
        return BatchSource(self.backbone, dataset, augmentation, config.seed, config.cache_features and not trains,
                           self.cache_dir, start_step, storage=config.cache_storage, num_workers=config.num_workers,
                           process=(accelerator.process_index, accelerator.num_processes), grad=trains)

    def info(self) -> dict[str, Any]:
        backbone = backbone_info(self.config.backbone, self.config.backbone_kind, self.backbone,
                                 self.config.feature_taps)
        if self.trained is not None:
            backbone["trained"] = self.trained.describe()
        return {"tasks": self.tasks, "classes": self.classes, "dataset": self.config.dataset, "data": self.config.data,
                "backbone": backbone}

    def evaluate(self, models: dict[str, PerceptionModel], flip: bool = False,
                 features: FeatureSource | None = None) -> dict[str, dict]:
        """Metrics of ``models`` on the evaluation split (``perception.evaluation.evaluate``, which
        `diff2in1 evaluate` also calls); call on every process (they share the work)."""
        return evaluate(self.backbone, models, self.eval_set, flip=flip, accelerator=self.accelerator,
                        features=features, progress=self.config.progress)

    def stored_unet(self, folder: str | Path, which: str) -> AbstractContextManager:
        """For the block, the trained UNet weights checkpoint ``folder`` stores beside head ``which`` (to score
        that head on them); nothing to do when the backbone is frozen."""
        if self.trained is None:
            return nullcontext()
        return self.trained.weights(load_unet_weights(folder, which), where=str(folder))

    def plan(self) -> Plan:
        """When the training loop (``fit``) logs, evaluates and saves: every step's log, eval.csv rows
        every --eval-every steps before the last (the caller evaluates the last), --checkpoint-every."""
        config = self.config
        return Plan(config.steps, config.checkpoint_every, config.eval_every,
                    progress=config.progress and self.writes)
