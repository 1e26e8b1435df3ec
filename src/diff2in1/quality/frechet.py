"""Fréchet distance of judge embeddings (FID with the rooms judge in place of Inception) and class histograms."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
from tqdm import tqdm

from .judge import RoomsJudge, as_judge_input, load_judge


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance of N(mu1, sigma1) and N(mu2, sigma2): |mu1 - mu2|² + tr(s1 + s2 - 2 (s1 s2)^½).

    Args:
        mu1, mu2: means, shape (D,).
        sigma1, sigma2: covariances, shape (D, D).
        eps: added to the diagonals when the product is too singular for a finite square root.

    Raises:
        ValueError: on mismatched shapes, or when the square root has a large imaginary part (the
            covariances are not positive semi-definite, e.g. from NaN embeddings).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"frechet_distance: means {mu1.shape}, {mu2.shape} and covariances {sigma1.shape}, "
                         f"{sigma2.shape} must be (D,) and (D, D) for one D")
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # A singular product (fewer samples than dimensions) can make the square root blow up.
        offset = np.eye(len(mu1)) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        # Rounding gives tiny imaginary parts to a real square root; large ones mean invalid covariances.
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"frechet_distance: imaginary component {np.max(np.abs(covmean.imag)):.3g} in the "
                             "square root of sigma1 @ sigma2; are the covariances positive semi-definite?")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


@torch.no_grad()
def judge_outputs(judge: RoomsJudge, images: torch.Tensor, batch_size: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings NxD float64, class pixel counts (K,) int64) of images Nx3xHxW, uint8 or float in [-1, 1]."""
    device = next(judge.parameters()).device
    num_classes = judge.config["num_classes"]
    embeddings, counts = [], torch.zeros(num_classes, dtype=torch.long)
    for chunk in images.split(batch_size):
        logits, embedding = judge(as_judge_input(chunk, device))
        embeddings.append(embedding.double().cpu())
        counts += torch.bincount(logits.argmax(1).flatten().cpu(), minlength=num_classes)
    return torch.cat(embeddings).numpy(), counts.numpy()


def embedding_stats(judge: RoomsJudge, images: torch.Tensor, batch_size: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of the judge embeddings of images Nx3xHxW (uint8, or float in [-1, 1])."""
    if len(images) < 2:
        raise ValueError(f"embedding_stats: a covariance needs at least 2 images, got {len(images)}")
    embeddings = judge_outputs(judge, images, batch_size)[0]
    return embeddings.mean(axis=0), np.cov(embeddings, rowvar=False)


def class_histogram(judge: RoomsJudge, images: torch.Tensor, batch_size: int = 100) -> np.ndarray:
    """Fraction of pixels the judge assigns to each class, shape (K,), summing to 1."""
    counts = judge_outputs(judge, images, batch_size)[1]
    return counts / max(1, counts.sum())


def compare_images(judge: RoomsJudge, generated: torch.Tensor, real: torch.Tensor,
                   batch_size: int = 100) -> dict[str, float | list[float] | int]:
    """Fréchet distance and class histograms of two image sets (Nx3xHxW, uint8 or float in [-1, 1]).

    Returns:
        ``frechet`` (judge embedding units²), ``class_hist_generated`` and ``class_hist_real`` (pixel
        fractions per class), ``hist_l1`` (sum of absolute differences, 0-2), ``num_generated``, ``num_real``.
    """
    if generated.shape[1:] != real.shape[1:]:
        raise ValueError(f"compare_images: generated images are {tuple(generated.shape[1:])}, real ones "
                         f"{tuple(real.shape[1:])}; load the real images at the model's size")
    stats = {}
    for name, images in (("generated", generated), ("real", real)):
        if len(images) < 2:
            raise ValueError(f"compare_images: need at least 2 {name} images, got {len(images)}")
        embeddings, counts = judge_outputs(judge, images, batch_size)
        stats[name] = (embeddings.mean(axis=0), np.cov(embeddings, rowvar=False), counts / max(1, counts.sum()))
    (mu_g, sigma_g, hist_g), (mu_r, sigma_r, hist_r) = stats["generated"], stats["real"]
    return {
        "frechet": frechet_distance(mu_g, sigma_g, mu_r, sigma_r),
        "class_hist_generated": [round(float(v), 6) for v in hist_g],
        "class_hist_real": [round(float(v), 6) for v in hist_r],
        "hist_l1": float(np.abs(hist_g - hist_r).sum()),
        "num_generated": len(generated),
        "num_real": len(real),
    }


@torch.no_grad()
def generate_samples(model, num: int, steps: int = 50, seed: int = 0, batch_size: int = 50,
                     scheduler=None, progress: bool = False) -> torch.Tensor:
    """Unconditional DDIM samples (eta 0) from noise, Nx3xSxS float in [-1, 1] on the CPU.

    Args:
        model: a `PixelBackbone`, or a diffusers ``UNet2DModel`` (then ``scheduler`` gives its noise schedule;
            DDPM's linear one when None).
        num, steps: number of images and of DDIM steps.
        seed: seeds all the starting noise at once, so the images do not depend on ``batch_size`` (with
            ``batch_size >= num`` they equal ``training.pretrain.sample_images``'s).
        progress: show a progress bar (images done).
    """
    from diffusers import DDIMScheduler

    from ..backbones.pixel import default_pixel_scheduler

    unet = getattr(model, "unet", model)
    scheduler = getattr(model, "scheduler", scheduler)
    scheduler = default_pixel_scheduler() if scheduler is None else scheduler
    scheduler = DDIMScheduler.from_config(scheduler.config)  # a copy: the model's own schedule stays as it is
    scheduler.set_timesteps(steps)
    param = next(unet.parameters())
    size = unet.config.sample_size
    noise = torch.randn(num, unet.config.in_channels, size, size, generator=torch.Generator("cpu").manual_seed(seed))
    out = []
    with tqdm(total=num, desc="sampling", unit="img", disable=not progress) as bar:
        for x in noise.split(batch_size):
            x = x.to(param.device, param.dtype)
            for t in scheduler.timesteps:
                x = scheduler.step(unet(x, t).sample, t, x).prev_sample
            out.append(x.clamp(-1, 1).float().cpu())
            bar.update(len(x))
    return torch.cat(out)


def generation_report(model, real_images: torch.Tensor, num_samples: int = 500, steps: int = 50, seed: int = 0,
                      judge: RoomsJudge | None = None, batch_size: int = 50) -> dict:
    """Sample ``num_samples`` images from ``model`` (see `generate_samples`) and compare them with real images.

    Args:
        real_images: Nx3xHxW uint8 (e.g. from ``data.images.load_images``) or float in [-1, 1], at the
            judge's resolution (64 for the shipped rooms judge).
        judge: default: the shipped rooms judge, on the model's device.

    Returns:
        the dict of `compare_images` (``frechet``, ``class_hist_generated``, ``class_hist_real``, ``hist_l1``, ...).
    """
    unet = getattr(model, "unet", model)
    judge = judge if judge is not None else load_judge(device=next(unet.parameters()).device)
    generated = generate_samples(model, num_samples, steps, seed, batch_size)
    return compare_images(judge, generated, real_images, batch_size=100)
