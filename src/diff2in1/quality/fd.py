"""`diff2in1 quality fd`: Fréchet distance (rooms judge) of a model's samples, or of an image folder, to real images."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..config import config_to_dict
from ..fileio import write_json
from .configs import FdConfig


def _device(name: str) -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else torch.device(name)


def _load_model(name: str, device: torch.device):
    """The backbone named by --model, or None when it is a folder of images."""
    from ..backbones import PixelBackbone, load_embedded_backbone

    if name == "embedded":
        return load_embedded_backbone(device=device)
    folder = Path(name).expanduser()
    if (folder / "unet" / "config.json").is_file() or (folder / "config.json").is_file():
        return PixelBackbone.from_pretrained(folder, device=device)
    if not folder.is_dir():
        raise FileNotFoundError(f"--model {name}: not 'embedded' and no such folder; pass 'embedded', a diffusers "
                                "folder with unet/ and scheduler/, or a folder of images")
    return None


def run_fd(config: FdConfig) -> dict:
    """Score ``config.model`` against the real images; returns (and optionally writes) the report."""
    from ..data.images import load_images
    from ..training.pretrain import save_grid
    from .frechet import compare_images, generate_samples
    from .judge import load_judge

    device = _device(config.device)
    judge = load_judge(None if config.judge == "embedded" else config.judge, device=device)
    size = int(judge.info.get("image_size", 64))
    real = load_images(config.data, size, config.split, limit=config.num_real or None)
    model = _load_model(config.model, device)
    start = time.time()
    if model is None:
        scored = load_images(config.model, size, "train", limit=config.num).float() / 127.5 - 1
    else:
        if model.sample_size != size:
            raise ValueError(f"--model {config.model}: makes {model.sample_size}x{model.sample_size} images, the "
                             f"judge scores {size}x{size}; use a {size}-pixel model or a judge trained at its size")
        scored = generate_samples(model, config.num, config.steps, config.seed, config.batch_size, progress=True)
    sampling_seconds = time.time() - start
    report = compare_images(judge, scored, real)
    report.update({
        "classes": judge.info.get("classes"),
        "sampling_seconds": round(sampling_seconds, 1),
        "images_per_second": round(len(scored) / max(sampling_seconds, 1e-9), 2) if model is not None else None,
        "device": str(device),
        "judge_test_scores": judge.info.get("test_scores"),
        "config": config_to_dict(config),
    })
    if config.out:
        write_json(config.out, report)
    if config.grid:
        save_grid(scored[:64], Path(config.grid))
    if config.samples:
        _save_images(scored, Path(config.samples))
    return report


def _save_images(images: torch.Tensor, folder: Path) -> None:
    """Images Nx3xHxW in [-1, 1] -> ``folder/000000.png`` ..."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    array = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    for index, image in enumerate(array):
        Image.fromarray(image).save(folder / f"{index:06d}.png")
