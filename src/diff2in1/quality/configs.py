"""Options of the `diff2in1 quality` commands (kept free of torch imports so that `--help` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import option


@dataclass
class FdConfig:
    model: str = option("embedded", "what to score: 'embedded' (the shipped rooms64 backbone), a diffusers pixel "
                        "folder with unet/ and scheduler/, or a folder of images (its train split in the project "
                        "layout), scored as they are")
    data: str = option("data/rooms", "real images: a rooms data set (project layout) or a flat image folder")
    split: str = option("test", "split of --data used as the real set (project layout only)")
    num: int = option(500, "generated samples (or images taken from an image folder)")
    num_real: int = option(0, "real images used (0 = all of the split)")
    steps: int = option(50, "DDIM steps per sample")
    seed: int = option(0, "seed of the starting noise")
    batch_size: int = option(50, "images per UNet batch")
    judge: str = option("embedded", "judge folder (model.safetensors, config.json, SHA256SUMS); 'embedded' = "
                        "the shipped rooms judge")
    device: str = option("auto", "torch device; 'auto' = cuda when available, else cpu")
    out: str = option("", "write the report to this JSON file (printed in any case)")
    grid: str = option("", "write the first 64 scored images as an 8x8 PNG grid to this file")
    samples: str = option("", "write every scored image as a PNG into this folder (score it again with --model)")


@dataclass
class JudgeConfig:
    data: str = option("data/rooms-judge", "rooms data set (project layout) with semseg; train split for training, "
                       "test split for the reported accuracy")
    out: str = option("runs/judge_rooms64", "output folder: model.safetensors, config.json, SHA256SUMS, log.csv")
    steps: int = option(1500, "optimizer steps")
    batch_size: int = option(32, "images per step")
    lr: float = option(3e-3, "peak AdamW learning rate (cosine schedule after 100 warm-up steps)")
    max_minutes: float = option(0.0, "stop early after this many minutes (0 = no limit)")
    limit: int = option(0, "use at most this many training images (0 = all)")
    threads: int = option(0, "CPU threads for torch (0 = torch's default)")
    seed: int = option(0, "random seed")
