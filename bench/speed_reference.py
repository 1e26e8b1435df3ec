"""The official release's improve step, re-implemented as a REFERENCE for bench/speed.py (not the package's way).

The release (github.com/zsh2000/diff-2-in-1, training_2nd_stage.py) runs the UNet twice per improve step;
the package runs it once for θC and θE together (`diff2in1.self_improving.improve._mixed_batch`). These steps
build the same batches both ways, so the harness can time them side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from diff2in1.backbones import DiffusionBackbone
from diff2in1.heads import PerceptionModel
from diff2in1.perception.splits import features_of
from diff2in1.training.sources import BatchSource
from speed_models import TASKS

if TYPE_CHECKING:  # the previous improve stage's pool; see speed.improve_stage_api
    from diff2in1.training.synthetic import SyntheticPool


def merge_labels(real: dict[str, Any], syn: dict[str, Any], tasks: list[str]) -> dict[str, Any]:
    batch: dict[str, Any] = {"image": torch.cat([real["image"], syn["image"]]), "mask": {}}
    for task in tasks:
        batch[task] = torch.cat([real[task], syn[task]])
        batch["mask"][task] = torch.cat([real["mask"][task], syn["mask"][task]])
    return batch


def draw_improve_batch(bench: Any, real_source: BatchSource, pool: SyntheticPool) -> tuple[dict, dict, dict]:
    """(real half with labels, synthetic half without, both as one batch of images and captions)."""
    num_syn = int(round(bench.config.batch_size * (1 - bench.config.real_fraction)))
    real, syn = real_source.next(bench.config.batch_size - num_syn), pool.next(num_syn)
    both = {"image": torch.cat([real["image"], syn["image"]]), "caption": list(real["caption"]) + list(syn["caption"])}
    return real, syn, both


def label_synthetic(syn: dict[str, Any], creation: PerceptionModel, features: list[torch.Tensor]) -> None:
    """θC's labels for the LAST len(syn) rows of ``features`` go into ``syn``."""
    num_syn = len(syn["image"])
    from diff2in1.training.synthetic import label_with  # present only with the previous improve stage

    labels = label_with(creation, features, tuple(syn["image"].shape[-2:]))
    syn.update({task: labels[task][-num_syn:] for task in TASKS})
    syn["mask"] = {task: labels["mask"][task][-num_syn:] for task in TASKS}


def two_pass_reference(bench: Any, backbone: DiffusionBackbone, real_source: BatchSource, pool: SyntheticPool,
                       creation: PerceptionModel, label_rows: str) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """REFERENCE, NOT the package's way: the official release's improve batch, the UNet run twice per step.

    training_2nd_stage.py of the release (github.com/zsh2000/diff-2-in-1) encodes the whole batch and runs
    the UNet for θC's labels, then encodes it and runs the UNet again for θE. ``label_rows="all"`` does
    that; ``"synthetic"`` runs θC's pass on the synthetic half only (the cheapest two-pass variant).
    """
    real, syn, both = draw_improve_batch(bench, real_source, pool)
    label_synthetic(syn, creation, features_of(backbone, both if label_rows == "all" else syn))
    return merge_labels(real, syn, TASKS), features_of(backbone, both)


def one_pass_reference(bench: Any, backbone: DiffusionBackbone, real_source: BatchSource, pool: SyntheticPool,
                       creation: PerceptionModel) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """REFERENCE: exactly one UNet pass over real + synthetic, θC reading the synthetic rows (what the
    package's `_mixed_batch` should cost; compare ``improve_unet_images_per_step``)."""
    real, syn, both = draw_improve_batch(bench, real_source, pool)
    features = features_of(backbone, both)
    label_synthetic(syn, creation, [f[len(real["image"]):] for f in features])
    return merge_labels(real, syn, TASKS), features


def count_unet_images(backbone: DiffusionBackbone, run: Callable[[], Any]) -> int:
    """Images the UNet saw during ``run()`` (summed over its forward calls)."""
    seen = [0]

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
        seen[0] += int((args[0] if args else kwargs["sample"]).shape[0])

    handle = backbone.unet.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        run()
    finally:
        handle.remove()
    return seen[0]

