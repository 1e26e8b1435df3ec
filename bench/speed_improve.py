"""The improve section of bench/speed.py: what the student's perturbed view and the teacher's ensemble cost.

One training step of the improve stage (``self_improving.improve.step_loss`` + backward + AdamW), for:
- ``control``: real samples only, one view each;
- ``views``: real + samples without labels, θC averaging ``--views`` views of each (every step);
- ``release``: the release's recipe (``--preset release``): one view, θC on a second noise draw;
each with features streamed (every (image, view) a UNet pass: the cost of perturbing the student's view
without a cache) and cached (every entry computed beforehand, as later epochs read them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from diff2in1.backbones import DiffusionBackbone
from diff2in1.config import config_from_dict
from diff2in1.self_improving.improve import ImproveConfig, step_loss, teacher_view_list
from diff2in1.self_improving.pools import Pool, student_views
from diff2in1.self_improving.views import ViewBank
from diff2in1.training.feature_cache import FeatureCache
from diff2in1.training.samples import HeldSamples, load_all
from diff2in1.training.step import TrainStep
from speed_models import make_head, make_items
from speed_reference import count_unet_images

VARIANTS = {"control": {"pseudo_batch_size": 0}, "views": {}, "release": {"preset": "release", "batch_size": 4,
                                                                          "pseudo_batch_size": 4}}


def _pools(backbone: DiffusionBackbone, config: ImproveConfig, real: dict, pseudo: dict, cached: bool):
    bank = ViewBank(config.views, config.crop_min_scale, config.jitter, config.seed)
    views = student_views(config.views)
    stores = [FeatureCache(backbone, HeldSamples(b), bank, store=cached, batch_size=config.unet_batch_size)
              for b in (real, pseudo)]
    if cached:
        stores[0].fill(views)
        stores[1].fill(sorted(set(views) | set(teacher_view_list(config))))
    real_pool = Pool("labelled", stores[0], config.seed, views)
    return real_pool, (Pool("pseudo", stores[1], config.seed + 1, views) if config.pseudo_batch_size else None)


def bench_improve(bench: Any, backbone: DiffusionBackbone, items: list[dict[str, Any]]) -> dict[str, Any]:
    config = bench.config
    real = load_all(items)
    pseudo = load_all(make_items(len(items), backbone.sample_size, config.seed + 7, labels=False))
    from accelerate import Accelerator

    model, optimizer = make_head(config, backbone)
    creation, _ = make_head(config, backbone)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    trainer = TrainStep(Accelerator(cpu=backbone.device.type == "cpu"), model, optimizer, schedule)
    half = config.batch_size // 2
    runs, counts = {}, {}
    for name, overrides in VARIANTS.items():
        improve = config_from_dict(ImproveConfig, {"batch_size": half, "pseudo_batch_size": half, "seed": config.seed,
                                                    "unet_batch_size": config.batch_size, **overrides}, name)
        if name == "control":
            improve = replace(improve, batch_size=config.batch_size)
        for cached in (False, True):
            pools = _pools(backbone, improve, real, pseudo, cached)
            calls = [0]

            def step(improve=improve, pools=pools, calls=calls) -> None:
                with bench.autocast():
                    loss, _ = step_loss(trainer, creation, pools, calls[0], improve, backbone.device)
                trainer.step(loss)
                calls[0] += 1

            key = f"{name}_{'cached' if cached else 'streamed'}"
            runs[key] = step
            counts[key] = count_unet_images(backbone, step)
    seconds = bench.medians("improve_step", runs)
    return {"improve_step_s": seconds, "improve_unet_images_per_step": counts,
            "improve_views_vs_control_streamed": seconds["views_streamed"] / seconds["control_streamed"],
            "improve_views_vs_control_cached": seconds["views_cached"] / seconds["control_cached"],
            "improve_views_cached_vs_streamed": seconds["views_streamed"] / seconds["views_cached"],
            "improve_release_vs_control_streamed": seconds["release_streamed"] / seconds["control_streamed"]}
