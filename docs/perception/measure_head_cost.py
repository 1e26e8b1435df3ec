"""Seconds per image of one head training step (forward, backward, AdamW) next to one frozen UNet pass.

    .venv/bin/python docs/perception/measure_head_cost.py

Embedded rooms backbone, batch 8, 64x64, one thread, median of 5 after one untimed run. The ratios are
the ceilings the feature cache ((U + H) / H, warm-up) and the shared improve pass ((2U + H) / (U + H))
can reach with that head.
"""

from __future__ import annotations

import time

import torch

from diff2in1.backbones import load_embedded_backbone
from diff2in1.heads import PerceptionModel

TASKS = ["normal", "depth", "semseg"]


def median_seconds(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[repeats // 2]


def training_step(model: PerceptionModel, features: list[torch.Tensor], batch: dict):
    optimizer = torch.optim.AdamW(model.parameters())

    def step() -> None:
        loss, _ = model.loss(model(features, (64, 64)), batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return step


def main() -> None:
    torch.set_num_threads(1)
    backbone = load_embedded_backbone(torch.device("cpu"))
    images = torch.rand(8, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        features = backbone.extract_features(images)
        unet = median_seconds(lambda: backbone.extract_features(images))
    print(f"feature strides {backbone.feature_strides}, UNet pass {unet / 8:.4f} s/image")
    g = torch.Generator().manual_seed(0)
    batch = {"normal": torch.nn.functional.normalize(torch.randn(8, 3, 64, 64, generator=g), dim=1),
             "depth": torch.rand(8, 1, 64, 64, generator=g) * 4 + 0.5,
             "semseg": torch.randint(0, 6, (8, 64, 64), generator=g),
             "mask": {t: torch.ones(8, 64, 64, dtype=torch.bool) for t in TASKS}}
    print("| channels | fuse stride | head step s/image | (U+H)/H | (2U+H)/(U+H) | parameters |")
    print("|---|---|---|---|---|---|")
    for channels in (32, 64, 96, 128):
        for fuse_stride in (1, 2, 4):
            model = PerceptionModel(backbone.feature_channels, backbone.feature_strides, TASKS, num_classes=6,
                                    channels=channels, fuse_stride=fuse_stride)
            head = median_seconds(training_step(model, features, batch))
            params = sum(p.numel() for p in model.parameters())
            print(f"| {channels} | {fuse_stride} | {head / 8:.4f} | {(unet + head) / head:.2f} | "
                  f"{(2 * unet + head) / (unet + head):.2f} | {params:,} |")


if __name__ == "__main__":
    main()
