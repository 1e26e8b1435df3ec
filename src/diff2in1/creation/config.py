"""Options of `diff2in1 create` (kept free of heavy imports, so the CLI can build its parser cheaply)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import option


@dataclass
class CreateConfig:
    checkpoint: str = option("runs/warmup/checkpoint", "perception checkpoint folder (from warmup or improve)")
    which: str = option("theta_e", "head that labels: theta_e (θE) or theta_c (θC, improve checkpoints); model "
                        "and creation are their older names", choices=["theta_e", "theta_c", "model", "creation"])
    data: str = option("data/rooms", "root of the real data set whose images are the sources")
    dataset: str = option("rooms", "data-set reader of --data (as for warmup)")
    split: str = option("train", "split of the source images")
    out: str = option("data/created", "output folder (project layout; existing complete samples are kept)")
    per_image: int = option(1, "created images per source image (the release: 1)")
    t_star: int = option(600, "noise timestep t* of 1000 (the release: 600; small = near copies)")
    strength: float = option(0.0, "alternative to --t-star: t* / num_train_timesteps in (0, 1]; 0 = use --t-star")
    steps: int = option(50, "DDIM schedule length (about steps * t*/1000 steps run)")
    eta: float = option(0.0, "DDIM stochasticity (the release: 0)")
    guidance_scale: float = option(1.0, "classifier-free guidance scale (text backbones; 1 = none, the release)")
    batch_size: int = option(8, "images per DDIM pass")
    seed: int = option(0, "seed of the noise; a sample's noise depends on (seed, source index, k)")
    num_labelled: int = option(0, "use the warm-up's labelled subset of this many images (0 = all)")
    labelled_seed: int = option(0, "the warm-up's --seed, which chose its labelled subset")
    limit: int = option(0, "create from the first N selected source images only (0 = all)")
    progress: bool = option(True, "show a progress bar")
