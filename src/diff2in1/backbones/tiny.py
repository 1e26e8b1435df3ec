"""Tiny, randomly initialised diffusion models saved in the same folder layouts as real ones.

They exist for tests and smoke runs: a few million parameters at most, a few milliseconds per UNet pass on a
CPU, loaded through exactly the path a user's folder takes (`load_backbone` / `from_pretrained`). Their
outputs are meaningless; their shapes, configs and file layouts are real.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel, UNet2DModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

CLIP_VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"
CLIP_MAX_LENGTH = 77
# The number of merges CLIP keeps from the BPE file (49152 tokens minus the 256 byte tokens and 2 specials).
CLIP_NUM_MERGES = 49152 - 256 - 2


def clip_vocab_file() -> Path:
    """Path of CLIP's BPE vocabulary (``bpe_simple_vocab_16e6.txt.gz``), shipped inside the ``open_clip`` package.

    Raises:
        FileNotFoundError: if ``open_clip`` (installed without dependencies is enough) or its file is missing.
    """
    spec = importlib.util.find_spec("open_clip")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / CLIP_VOCAB_NAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"CLIP's BPE vocabulary {CLIP_VOCAB_NAME} was not found (looked in the open_clip package: "
        f"{locations or 'not installed'}); install it with `pip install --no-deps open_clip_torch`"
    )


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's (and GPT-2's) reversible map from the 256 byte values to printable unicode characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))


def write_clip_tokenizer(folder: str | Path, vocab_file: str | Path | None = None) -> Path:
    """Write CLIP's tokenizer files (``vocab.json``, ``merges.txt``, configs) as in a Stable Diffusion folder.

    The vocabulary is built exactly as CLIP's reference tokenizer builds it from the BPE file: the 256 byte
    characters, the same with ``</w>``, one token per merge, then ``<|startoftext|>`` (49406) and
    ``<|endoftext|>`` (49407): 49408 tokens in all.

    Args:
        folder: the tokenizer folder to create (e.g. ``SD/tokenizer``).
        vocab_file: CLIP's ``bpe_simple_vocab_16e6.txt.gz``; found in ``open_clip`` when omitted.

    Returns:
        the folder, loadable with ``CLIPTokenizer.from_pretrained``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = gzip.open(vocab_file or clip_vocab_file()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : CLIP_NUM_MERGES + 1]]
    byte_chars = list(_bytes_to_unicode().values())
    tokens = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False))
    merge_text = "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n"
    (folder / "merges.txt").write_text(merge_text, encoding="utf-8")
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    }
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": CLIP_MAX_LENGTH, **special}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    return folder


def _tiny_text_encoder(vocab_size: int, hidden_size: int) -> CLIPTextModel:
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=CLIP_MAX_LENGTH,
        projection_dim=hidden_size,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )
    return CLIPTextModel(config)


def _tiny_sd_unet(
    block_out_channels: Sequence[int], sample_size: int, cross_dim: int
) -> UNet2DConditionModel:
    n = len(block_out_channels)
    # Like SD: cross-attention in every down block but the last and every up block but the first.
    down = ["CrossAttnDownBlock2D"] * (n - 1) + ["DownBlock2D"]
    up = ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * (n - 1)
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=4,
        out_channels=4,
        block_out_channels=tuple(block_out_channels),
        layers_per_block=1,
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        cross_attention_dim=cross_dim,
        attention_head_dim=2,
        norm_num_groups=min(32, min(block_out_channels)),
    )


def _tiny_vae(block_out_channels: Sequence[int], image_size: int) -> AutoencoderKL:
    n = len(block_out_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=tuple(block_out_channels),
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=min(32, min(block_out_channels)),
        sample_size=image_size,
    )


def _sd_scheduler() -> DDIMScheduler:
    """The training schedule of SD v1.x/v2.x (scaled-linear betas 0.00085..0.012 over 1000 steps)."""
    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="epsilon",
    )


def save_tiny_stable_diffusion(
    folder: str | Path,
    block_out_channels: Sequence[int] = (32, 64),
    sample_size: int = 16,
    seed: int = 0,
) -> Path:
    """Save a tiny, random Stable-Diffusion-layout pipeline (model_index.json, unet/, vae/, text_encoder/, ...).

    The tokenizer is CLIP's real BPE tokenizer (49408 tokens); the text encoder has hidden size 32, so the
    token embedding (49408x32) holds most of its ~1.7M parameters. The VAE downsamples by
    ``2 ** (len(block_out_channels) - 1)`` (2 by default, not SD's 8), so images are
    ``sample_size * 2`` pixels wide (32 by default).

    Args:
        folder: where to write the pipeline; created if missing.
        block_out_channels: UNet and VAE channels per resolution level.
        sample_size: latent side the UNet is configured for.
        seed: seed of the random initialisation (the caller's global RNG state is left untouched).

    Returns:
        the folder, loadable with ``load_backbone("stable_diffusion", folder)`` or
        ``StableDiffusionPipeline.from_pretrained(folder)``.
    """
    # A slow import, needed only here: the pipeline's save_pretrained writes model_index.json.
    from diffusers import StableDiffusionPipeline

    folder = Path(folder)
    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(folder / "tokenizer"))
    cross_dim = 32
    vae_factor = 2 ** (len(block_out_channels) - 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        pipeline = StableDiffusionPipeline(
            vae=_tiny_vae(block_out_channels, sample_size * vae_factor),
            text_encoder=_tiny_text_encoder(len(tokenizer), cross_dim),
            tokenizer=tokenizer,
            unet=_tiny_sd_unet(block_out_channels, sample_size, cross_dim),
            scheduler=_sd_scheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipeline.save_pretrained(folder, safe_serialization=True)
    return folder


def save_tiny_pixel_unet(
    folder: str | Path,
    sample_size: int = 16,
    block_out_channels: Sequence[int] = (16, 32),
    seed: int = 0,
) -> Path:
    """Save a tiny, random pixel-space ``UNet2DModel`` as ``folder/unet/`` plus ``folder/scheduler/``.

    Args:
        folder: where to write; created if missing.
        sample_size: image side (pixels) the UNet is configured for.
        block_out_channels: channels per resolution level (plain Down/UpBlock2D, one layer each).
        seed: seed of the random initialisation (the caller's global RNG state is left untouched).

    Returns:
        the folder, loadable with ``load_backbone("pixel", folder)``.
    """
    folder = Path(folder)
    n = len(block_out_channels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DModel(
            sample_size=sample_size,
            in_channels=3,
            out_channels=3,
            block_out_channels=tuple(block_out_channels),
            layers_per_block=1,
            down_block_types=("DownBlock2D",) * n,
            up_block_types=("UpBlock2D",) * n,
            norm_num_groups=min(8, min(block_out_channels)),
            attention_head_dim=8,
        )
    unet.save_pretrained(folder / "unet", safe_serialization=True)
    # DDPM's linear schedule, the usual one for pixel-space models trained from scratch.
    scheduler = DDIMScheduler(
        num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02
    )
    scheduler.save_pretrained(folder / "scheduler")
    return folder
