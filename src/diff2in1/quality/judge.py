"""The rooms judge: a compact CNN trained on real rooms to segment them; its features score generated images.

Like Inception for FID, but trained on the domain itself and shipped with the package (no download): its
globally pooled deepest features are the embedding of the Fréchet distance (`frechet.py`) and its predicted
segmentation gives the class histogram of a set of images. See ``assets/judge_rooms64/TRAINING.md``.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import config_to_dict
from ..fileio import (
    load_tensors,
    read_json,
    save_tensors,
    sha256_file,
    verify_checksums,
    write_json,
    write_text,
)
from ..metrics.segmentation import confusion_matrix, scores_from_confusion
from ..tasks import IGNORE_INDEX
from .configs import JudgeConfig

JUDGE_NAME = "judge_rooms64"
JUDGE_FILES = ("model.safetensors", "config.json")


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.GroupNorm(8, cout), nn.SiLU())


class RoomsJudge(nn.Module):
    """Encoder of four conv stages (full, 1/2, 1/4, 1/8 resolution) and a top-down segmentation decoder.

    Args:
        channels: channels of the four encoder stages; the last is the embedding size.
        decoder_channels: width of the top-down decoder.
        num_classes: segmentation classes (6 for rooms: floor, wall, ceiling, box, sphere, cylinder).
    """

    def __init__(self, channels: Sequence[int] = (32, 64, 128, 128), decoder_channels: int = 32,
                 num_classes: int = 6) -> None:
        super().__init__()
        c = list(channels)
        self.config = {"channels": c, "decoder_channels": decoder_channels, "num_classes": num_classes}
        self.stages = nn.ModuleList([nn.Sequential(_conv(3, c[0]), _conv(c[0], c[0]))])
        for cin, cout in zip(c[:-1], c[1:]):
            self.stages.append(nn.Sequential(_conv(cin, cout, stride=2), _conv(cout, cout)))
        self.laterals = nn.ModuleList([nn.Conv2d(ch, decoder_channels, 1) for ch in c])
        self.fuse = nn.ModuleList([_conv(decoder_channels, decoder_channels) for _ in c[:-1]])
        self.classifier = nn.Conv2d(decoder_channels, num_classes, 1)

    @property
    def embedding_dim(self) -> int:
        return self.config["channels"][-1]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images Bx3xHxW in [-1, 1] (H, W multiples of 8) -> (class logits BxKxHxW, embedding BxD)."""
        features = []
        x = images
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        top = self.laterals[-1](features[-1])
        for i in range(len(features) - 2, -1, -1):
            up = F.interpolate(top, size=features[i].shape[-2:], mode="bilinear", align_corners=False)
            top = self.fuse[i](self.laterals[i](features[i]) + up)
        return self.classifier(top), features[-1].mean(dim=(2, 3))


# ----------------------------------------------------------------------------- the shipped judge


def judge_path(name: str = JUDGE_NAME) -> Path:
    return Path(str(resources.files("diff2in1") / "assets" / name))


def save_judge(judge: RoomsJudge, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model.safetensors`` (fp32), ``config.json`` (architecture + ``extra``) and ``SHA256SUMS``."""
    folder = Path(folder)
    save_tensors(folder / "model.safetensors", judge.state_dict())
    write_json(folder / "config.json", {**judge.config, **(extra or {})})
    sums = "".join(f"{sha256_file(folder / name)}  {name}\n" for name in JUDGE_FILES)
    write_text(folder / "SHA256SUMS", sums)
    return folder


def verify_judge(folder: Path) -> None:
    """Check the files listed in ``folder/SHA256SUMS``; raise naming the first one that is missing or differs."""
    verify_checksums(folder, "the judge")


def load_judge(folder: str | Path | None = None, device: str | torch.device = "cpu") -> RoomsJudge:
    """The judge in ``folder`` (default: the shipped rooms judge), hash-checked, frozen, in eval mode."""
    folder = Path(folder) if folder is not None else judge_path()
    verify_judge(folder)
    config = read_json(folder / "config.json")
    judge = RoomsJudge(config["channels"], config["decoder_channels"], config["num_classes"])
    judge.load_state_dict(load_tensors(folder / "model.safetensors"))
    judge.info = config  # classes, image size and the held-out scores recorded at training time
    return judge.requires_grad_(False).eval().to(device)


def as_judge_input(images: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 images (0-255) or float images in [-1, 1], Bx3xHxW -> float [-1, 1] on ``device``."""
    if images.dtype == torch.uint8:
        return images.to(device).float() / 127.5 - 1
    return images.to(device).float().clamp(-1, 1)


@torch.no_grad()
def evaluate_judge(judge: RoomsJudge, images: torch.Tensor, labels: torch.Tensor,
                   batch_size: int = 100) -> dict[str, float]:
    """``pixel_acc`` and ``miou`` (fractions) of the judge's segmentation of images (see `as_judge_input`)
    against labels BxHxW (255 = ignored)."""
    device = next(judge.parameters()).device
    num_classes = judge.config["num_classes"]
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for x, y in zip(images.split(batch_size), labels.split(batch_size)):
        pred = judge(as_judge_input(x, device))[0].argmax(1).cpu()
        confusion += confusion_matrix(pred, y, num_classes)
    return scores_from_confusion(confusion)


# ----------------------------------------------------------------------------- training


def load_labelled(root: str | Path, split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (uint8 Nx3xHxW) and semantic labels (int64 NxHxW) of a split in the project layout."""
    from ..data.dataset import LayoutDataset

    dataset = LayoutDataset(root, split, tasks=["semseg"])
    count = len(dataset) if not limit else min(limit, len(dataset))
    if count == 0:
        raise ValueError(f"{root}/{split}: no samples; make them with `diff2in1 data rooms --out {root}`")
    items = [dataset[i] for i in range(count)]
    images = torch.stack([(item["image"] * 255).round().to(torch.uint8) for item in items])
    labels = torch.stack([torch.where(item["mask"]["semseg"], item["semseg"], IGNORE_INDEX) for item in items])
    return images, labels


def _lr_factor(steps: int):
    warmup = min(100, steps // 10)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return factor


def _batch(images: torch.Tensor, labels: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch, half of it mirrored (rooms are left-right symmetric)."""
    index = torch.randint(0, len(images), (size,))
    x, y = as_judge_input(images[index]), labels[index]
    flip = torch.rand(size) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x), torch.where(flip[:, None, None], y.flip(-1), y)


def train_judge(config: JudgeConfig) -> Path:
    """Train the judge on ``config.data``'s train split, score it on the test split, save it to ``config.out``."""
    from ..data.layout import read_meta

    if config.steps < 1 or config.batch_size < 1:
        raise ValueError(f"train-judge: --steps and --batch-size must be >= 1, got {config.steps}, {config.batch_size}")
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    classes = read_meta(config.data)["classes"]
    images, labels = load_labelled(config.data, "train", config.limit or None)
    judge = RoomsJudge(num_classes=len(classes))
    optimizer = torch.optim.AdamW(judge.parameters(), lr=config.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(config.steps))
    start, rows = time.time(), []
    for step in range(1, config.steps + 1):
        x, y = _batch(images, labels, config.batch_size)
        loss = F.cross_entropy(judge(x)[0], y, ignore_index=IGNORE_INDEX)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        seconds = time.time() - start
        if step % 50 == 0 or step == config.steps:
            rows.append([step, f"{loss.item():.4f}", f"{seconds:.1f}"])
            print(f"judge step {step}/{config.steps} loss {loss.item():.4f} ({seconds:.0f} s)", flush=True)
        if config.max_minutes and seconds > config.max_minutes * 60:
            print(f"stopping after {config.max_minutes} minutes at step {step}")
            break
    scores = evaluate_judge(judge.eval(), *load_labelled(config.data, "test"))
    print(f"held-out {config.data}/test: pixel accuracy {scores['pixel_acc']:.4f}, mIoU {scores['miou']:.4f}")
    _write_log(Path(config.out) / "log.csv", rows)
    extra = {"classes": classes, "image_size": int(images.shape[-1]), "input_range": [-1, 1], "test_scores": scores,
             "trained_steps": step, "training_minutes": round(seconds / 60, 2), "training": config_to_dict(config)}
    return save_judge(judge, config.out, extra)


def _write_log(path: Path, rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "loss", "seconds"])
        writer.writerows(rows)
