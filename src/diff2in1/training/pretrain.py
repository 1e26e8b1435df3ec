"""`diff2in1 pretrain`: train a pixel-space diffusion UNet (DDPM noise prediction) on a folder of images.

Its loss, sample grids (`fit`'s evaluate hook), checkpoint and `--max-minutes` stop go to `training.fit`'s loop."""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..config import config_to_dict
from ..data.images import load_images
from ..fileio import load_tensors, write_yaml
from .checkpoint import load_checkpoint, save_checkpoint
from .configs import PretrainConfig
from .ema import EMA
from .fit import Plan, fit
from .loop import RunLog, restore_rng, rng_states
from .step import TrainStep, make_accelerator, shard, step_seed, writes


def build_unet(config: PretrainConfig):
    from diffusers import UNet2DModel

    levels = len(config.block_out_channels)
    down = tuple("AttnDownBlock2D" if i in config.attention_levels else "DownBlock2D" for i in range(levels))
    up = tuple("AttnUpBlock2D" if levels - 1 - i in config.attention_levels else "UpBlock2D" for i in range(levels))
    return UNet2DModel(
        sample_size=config.size, in_channels=3, out_channels=3, block_out_channels=tuple(config.block_out_channels),
        layers_per_block=config.layers_per_block, down_block_types=down, up_block_types=up,
        attention_head_dim=32, norm_num_groups=16,
    )


def build_noise_scheduler(config: PretrainConfig):
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_schedule=config.beta_schedule, prediction_type="epsilon")


@torch.no_grad()
def sample_images(unet, scheduler_config: dict, num: int, steps: int = 50, seed: int = 0) -> torch.Tensor:
    """Generate ``num`` images (Nx3xSxS in [-1, 1]) from noise with DDIM."""
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler.from_config(scheduler_config)
    scheduler.set_timesteps(steps)
    param = next(unet.parameters())
    generator = torch.Generator("cpu").manual_seed(seed)
    size = unet.config.sample_size
    x = torch.randn(num, 3, size, size, generator=generator).to(param.device, param.dtype)
    for t in scheduler.timesteps:
        x = scheduler.step(unet(x, t).sample, t, x).prev_sample
    return x.clamp(-1, 1).float().cpu()


def save_grid(images: torch.Tensor, path: Path, columns: int = 8) -> None:
    """Images Nx3xHxW in [-1, 1] -> one PNG grid."""
    array = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    rows = [np.concatenate(list(array[i : i + columns]), axis=1) for i in range(0, len(array), columns)]
    rows[-1] = np.pad(rows[-1], ((0, 0), (0, rows[0].shape[1] - rows[-1].shape[1]), (0, 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


def _lr_lambda(config: PretrainConfig):
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def export_model(ema_unet, scheduler, folder: Path) -> Path:
    """Write the EMA UNet and its scheduler as a diffusers folder (``folder/unet``, ``folder/scheduler``)."""
    ema_unet.save_pretrained(folder / "unet", safe_serialization=True)
    scheduler.save_pretrained(folder / "scheduler")
    return folder


def _noisy_batch(images: torch.Tensor, step: int, config: PretrainConfig, accelerator, noise_scheduler):
    """This process's rows of step ``step``'s global batch: (noisy images, timesteps, noise).

    Images, flips, noise and timesteps of the whole global batch come from the step alone (each process
    draws them all and keeps its rows), so 1 or N processes, and a resumed run, train on the same batch.
    """
    size, mine = config.batch_size, shard(config.batch_size, accelerator)
    draws = torch.Generator().manual_seed(step_seed(config.seed, step))
    index = torch.randint(0, len(images), (size,), generator=draws)[mine]
    flip = (torch.rand(size, generator=draws) < 0.5)[mine]
    noise = torch.randn(size, *images.shape[1:], generator=draws)[mine].to(images.device)
    t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (size,), generator=draws)[mine].to(images.device)
    x0 = images[index.to(images.device)].float() / 127.5 - 1
    x0 = torch.where(flip.to(x0.device).view(-1, 1, 1, 1), x0.flip(-1), x0)
    return noise_scheduler.add_noise(x0, noise, t), t, noise


def _resume(out: Path, unet, ema: EMA, optimizer, lr_schedule, accelerator) -> int:
    folder = out / "checkpoint"
    if not (folder / "state.json").is_file():
        return 0
    info = load_checkpoint(folder, {"unet": unet, "ema": ema.shadow}, optimizer)
    if "ema_state" in info:
        ema.load_state_dict(info["ema_state"])
    if "schedule" in info:
        lr_schedule.load_state_dict(info["schedule"])
    else:  # written before the schedule was saved: it is a function of the step, replay it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "scheduler stepped before the optimizer": intended here
            for _ in range(int(info["step"])):
                lr_schedule.step()
    if (folder / "rng.safetensors").is_file():
        restore_rng(load_tensors(folder / "rng.safetensors"), accelerator, folder)
    accelerator.print(f"resumed from {folder} at step {info['step']}")
    return int(info["step"])


def _save(out: Path, trainer: TrainStep, config: PretrainConfig) -> None:
    rng = rng_states(trainer.accelerator)  # a collective: every process takes part, the main one writes
    if writes(trainer.accelerator):
        assert trainer.ema is not None
        save_checkpoint(out / "checkpoint", {"unet": trainer.plain, "ema": trainer.ema.shadow}, trainer.optimizer,
                        {"step": trainer.steps, "config": config_to_dict(config), "ema_state": trainer.ema.state_dict(),
                         "schedule": trainer.schedule.state_dict()},
                        tensors={"rng": rng})


def _start(config: PretrainConfig):
    out = Path(config.out).expanduser()
    accelerator = make_accelerator(config, out)
    images = load_images(config.data, config.size, limit=config.limit or None)
    torch.manual_seed(config.seed)  # every process starts from the same weights
    unet, noise_scheduler = build_unet(config), build_noise_scheduler(config)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=config.lr, weight_decay=0.01)
    ema = EMA(unet, decay=config.ema_decay)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config))
    step = _resume(out, unet, ema, optimizer, lr_schedule, accelerator)
    if not step and writes(accelerator):
        write_yaml(out / "config.yaml", config_to_dict(config))
    trainer = TrainStep(accelerator, unet, optimizer, lr_schedule, ema=ema, max_grad_norm=1.0, steps=step)
    return out, trainer, images.to(accelerator.device), noise_scheduler


def _out_of_time(accelerator, minutes: float, start: float) -> bool:
    """Past the time limit on any process (all stop at the same step, or the others would wait forever)."""
    if minutes <= 0:
        return False
    late = torch.tensor(float(time.time() - start > minutes * 60), device=accelerator.device)
    return bool(accelerator.reduce(late, reduction="sum") > 0)


def _loss(trainer: TrainStep, images: torch.Tensor, config: PretrainConfig, noise_scheduler):
    """Step ``step``'s DDPM loss: the MSE of the predicted noise."""

    def loss(step: int) -> tuple[torch.Tensor, dict[str, float]]:
        noisy, t, noise = _noisy_batch(images, step, config, trainer.accelerator, noise_scheduler)
        with trainer.autocast():
            pred = trainer.model(noisy, t).sample
        value = F.mse_loss(pred.float(), noise)
        return value, {"loss": float(value.detach())}

    return loss


def pretrain(config: PretrainConfig) -> Path:
    """Train; resumes from ``out/checkpoint`` when it exists. Returns the exported model folder.

    ``--batch-size`` is global: under ``accelerate launch`` each process takes an equal share of it.
    """
    out, trainer, images, noise_scheduler = _start(config)
    accelerator, ema = trainer.accelerator, trainer.ema
    assert ema is not None
    log = RunLog(accelerator, out, "pretrain", config, trainer.steps)
    start = time.time()

    def samples() -> None:  # on the main process alone: no eval.csv row
        if writes(accelerator):
            grid = sample_images(ema.shadow, noise_scheduler.config, 32)
            save_grid(grid, out / "samples" / f"step{trainer.steps:07d}.png")

    plan = Plan(config.steps, config.checkpoint_every, config.sample_every, eval_last=True, log_every=100,
                show="loss", seconds=False, progress=writes(accelerator))
    fit(plan, trainer, log, "pretrain", _loss(trainer, images, config, noise_scheduler), samples,
        save=lambda: _save(out, trainer, config), stop=lambda: _out_of_time(accelerator, config.max_minutes, start))
    if trainer.steps < config.steps:
        accelerator.print(f"stopping after {config.max_minutes} minutes at step {trainer.steps}; resume to continue")
    log.close()
    if writes(accelerator):
        export_model(ema.shadow, noise_scheduler, out / "model")
    return out / "model"
