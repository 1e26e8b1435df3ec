"""`diff2in1 pretrain`: train a pixel-space diffusion UNet (DDPM noise prediction) on a folder of images."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from ..config import config_to_dict
from ..data.images import load_images
from ..fileio import write_yaml
from .checkpoint import load_checkpoint, save_checkpoint
from .configs import PretrainConfig
from .ema import EMA
from .loop import CsvLog


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


def pretrain(config: PretrainConfig) -> Path:
    """Train; resumes from ``out/checkpoint`` when it exists. Returns the exported model folder."""
    from accelerate import Accelerator

    out = Path(config.out).expanduser()
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    torch.manual_seed(config.seed + accelerator.process_index)
    images = load_images(config.data, config.size, limit=config.limit or None)
    unet, noise_scheduler = build_unet(config), build_noise_scheduler(config)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=config.lr, weight_decay=0.01)
    ema = EMA(unet, decay=config.ema_decay)
    step = 0
    if (out / "checkpoint" / "state.json").is_file():
        step = load_checkpoint(out / "checkpoint", {"unet": unet, "ema": ema.shadow}, optimizer)["step"]
        accelerator.print(f"resumed from {out / 'checkpoint'} at step {step}")
    elif accelerator.is_main_process:
        write_yaml(out / "config.yaml", config_to_dict(config))
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config), last_epoch=step - 1) if step else \
        torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config))
    unet, optimizer = accelerator.prepare(unet, optimizer)
    ema.shadow.to(accelerator.device)
    images = images.to(accelerator.device)  # uint8 on the device: batches never wait for host copies
    start, log = time.time(), CsvLog(out / "log.csv")
    bar = tqdm(total=config.steps, initial=step, desc="pretrain", disable=not accelerator.is_main_process)
    while step < config.steps:
        index = torch.randint(0, len(images), (config.batch_size,), device=images.device)
        x0 = images[index].float() / 127.5 - 1
        x0 = torch.where(torch.rand(len(x0), 1, 1, 1, device=x0.device) < 0.5, x0.flip(-1), x0)
        noise = torch.randn_like(x0)
        t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(x0),), device=x0.device)
        with accelerator.autocast():
            pred = unet(noise_scheduler.add_noise(x0, noise, t), t).sample
        loss = F.mse_loss(pred.float(), noise)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad(set_to_none=True)
        ema.update(accelerator.unwrap_model(unet))
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}")
        out_of_time = config.max_minutes > 0 and time.time() - start > config.max_minutes * 60
        if accelerator.is_main_process and step % 100 == 0:
            log.write({"step": step, "loss": loss.item(), "lr": lr_schedule.get_last_lr()[0]})
        if accelerator.is_main_process and (step % config.sample_every == 0 or step == config.steps):
            save_grid(sample_images(ema.shadow, noise_scheduler.config, 32), out / "samples" / f"step{step:07d}.png")
        if accelerator.is_main_process and (step % config.checkpoint_every == 0 or step == config.steps or out_of_time):
            save_checkpoint(out / "checkpoint", {"unet": accelerator.unwrap_model(unet), "ema": ema.shadow}, optimizer,
                            {"step": step, "config": config_to_dict(config)})
        if out_of_time:
            accelerator.print(f"stopping after {config.max_minutes} minutes at step {step}; resume to continue")
            break
    bar.close()
    if accelerator.is_main_process:
        export_model(ema.shadow, noise_scheduler, out / "model")
    return out / "model"

