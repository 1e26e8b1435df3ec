"""The model factory of bench/speed.py: the backbone of each --size, the heads, random labelled items.

``sd15`` is SD v1.5's published architecture with RANDOM weights (nothing is downloaded): the timings are
those of the real shapes, the outputs are meaningless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from diff2in1.backbones import (
    DiffusionBackbone,
    StableDiffusionBackbone,
    load_backbone,
    load_embedded_backbone,
)
from diff2in1.backbones.tiny import save_tiny_stable_diffusion, write_clip_tokenizer
from diff2in1.data.rooms import CLASSES
from diff2in1.heads import PerceptionModel

TASKS = ["normal", "depth", "semseg"]

# Stable Diffusion v1.5's published configs (unet/, vae/, text_encoder/, scheduler/ of the model folder).
SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, norm_num_groups=32,
                 act_fn="silu", downsample_padding=1, flip_sin_to_cos=True, freq_shift=0, norm_eps=1e-5)
SD15_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                layers_per_block=2, norm_num_groups=32, act_fn="silu", sample_size=512, scaling_factor=0.18215)
SD15_TEXT = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                 num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
                 bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
SD15_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon")



def build_sd15(device: torch.device, folder: Path) -> StableDiffusionBackbone:
    """SD v1.5's architecture with random weights (CLIP's real tokenizer, from the open_clip vocabulary)."""
    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(folder / "tokenizer"))
    with torch.device(device):
        unet = UNet2DConditionModel(**SD15_UNET)
        vae = AutoencoderKL(**SD15_VAE)
        text_encoder = CLIPTextModel(CLIPTextConfig(**SD15_TEXT))
    return StableDiffusionBackbone(vae, unet, text_encoder, tokenizer, DDIMScheduler(**SD15_SCHEDULER))


def compile_outside_hooks(module: nn.Module, hooked: list[str], prefix: str = "") -> None:
    """Compile the largest submodules that are neither a feature layer nor contain one, so the forward
    hooks `capture_features` adds and removes on every call stay in eager code (no recompilation)."""
    for name, child in module.named_children():
        full = prefix + name
        if full in hooked or any(h.startswith(full + ".") for h in hooked):
            compile_outside_hooks(child, hooked, full + ".")
        elif any(True for _ in child.parameters()):
            child.compile()


def make_backbone(config: Any, device: torch.device, folder: Path) -> DiffusionBackbone:
    torch.manual_seed(config.seed)
    if config.size == "embedded":
        backbone = load_embedded_backbone(device=device)
    elif config.size == "tiny":
        backbone = load_backbone("stable_diffusion", save_tiny_stable_diffusion(folder / "tiny"), device=device)
    else:
        backbone = build_sd15(device, folder)
    if config.channels_last:
        for model in backbone.frozen_modules().values():
            model.to(memory_format=torch.channels_last)
    backbone.feature_channels  # noqa: B018 (probe the feature shapes before any compilation)
    if config.compile:
        compile_outside_hooks(backbone.unet, backbone.feature_layers)
    return backbone


def make_head(config: Any, backbone: DiffusionBackbone) -> tuple[PerceptionModel, torch.optim.Optimizer]:
    model = PerceptionModel(backbone.feature_channels, backbone.feature_strides, TASKS, num_classes=len(CLASSES),
                            channels=config.channels, fuse_stride=config.fuse_stride).to(backbone.device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    if config.compile:
        model.compile()
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4)


def make_items(n: int, size: int, seed: int, labels: bool = True) -> list[dict[str, Any]]:
    """Random images in [0, 1] with random valid labels of the three tasks, as the data readers give them."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        item: dict[str, Any] = {"id": f"{i:05d}", "image": torch.rand(3, size, size, generator=g),
                                "caption": f"a room with {i % 5 + 2} boxes"}
        if labels:
            normal = torch.randn(3, size, size, generator=g)
            item.update(normal=normal / normal.norm(dim=0, keepdim=True),
                        depth=torch.rand(1, size, size, generator=g) * 4 + 0.5,
                        semseg=torch.randint(0, len(CLASSES), (size, size), generator=g),
                        mask={task: torch.ones(size, size, dtype=torch.bool) for task in TASKS})
        items.append(item)
    return items

