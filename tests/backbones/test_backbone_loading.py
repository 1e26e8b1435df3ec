"""load_backbone: auto-detection, the folder layouts it accepts, errors a user can act on, fingerprints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from diff2in1.backbones import (
    PixelBackbone,
    StableDiffusionBackbone,
    detect_backbone_kind,
    load_backbone,
)


def test_auto_detects_each_kind(tiny_sd_path: Path, tiny_pixel_path: Path) -> None:
    assert detect_backbone_kind(tiny_sd_path) == "stable_diffusion"
    assert detect_backbone_kind(tiny_pixel_path) == "pixel"
    assert isinstance(load_backbone("auto", tiny_sd_path), StableDiffusionBackbone)
    assert isinstance(load_backbone("auto", tiny_pixel_path), PixelBackbone)


def test_tiny_sd_folder_is_a_diffusers_pipeline(tiny_sd_path: Path) -> None:
    index = json.loads((tiny_sd_path / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert (tiny_sd_path / "tokenizer" / "vocab.json").is_file()
    assert (tiny_sd_path / "tokenizer" / "merges.txt").is_file()


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_backbone("auto", tmp_path / "no_such_model")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_backbone("pixel", tmp_path / "no_such_model")


def test_folder_of_neither_kind_names_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ValueError, match=r"neither a Stable Diffusion folder .* nor a pixel-space model"):
        load_backbone("auto", tmp_path)
    with pytest.raises(FileNotFoundError, match="unet"):
        load_backbone("pixel", tmp_path)


def test_incomplete_sd_folder_lists_missing_parts(tiny_sd_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "sd"
    shutil.copytree(tiny_sd_path, broken, ignore=shutil.ignore_patterns("text_encoder", "scheduler"))
    with pytest.raises(FileNotFoundError, match=r"\['text_encoder', 'scheduler'\]"):
        load_backbone("auto", broken)


def test_bad_single_file_is_reported(tmp_path: Path) -> None:
    bogus = tmp_path / "model.safetensors"
    bogus.write_bytes(b"not a checkpoint")
    assert detect_backbone_kind(bogus) == "stable_diffusion"
    with pytest.raises(OSError, match="single-file Stable Diffusion"):
        load_backbone("auto", bogus, local_files_only=True)
    other = tmp_path / "model.bin"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match=".safetensors/.ckpt"):
        load_backbone("auto", other)


def test_unknown_kind_is_rejected(tiny_pixel_path: Path) -> None:
    with pytest.raises(ValueError, match="stable_diffusion"):
        load_backbone("latent_magic", tiny_pixel_path)


def test_pixel_folder_without_scheduler_uses_ddpm_schedule(tiny_pixel_path: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_pixel_path / "unet", tmp_path / "unet")
    backbone = load_backbone("auto", tmp_path, perception_timestep=5)
    assert backbone.scheduler.config.num_train_timesteps == 1000
    assert backbone.scheduler.config.beta_schedule == "linear"
    assert backbone.perception_timestep == 5


def test_dtype_option(tiny_pixel_path: Path) -> None:
    backbone = load_backbone("pixel", tiny_pixel_path, device="cpu", dtype=torch.float64)
    assert backbone.dtype == torch.float64 and backbone.device.type == "cpu"
    features = backbone.extract_features(torch.zeros(1, 3, 16, 16, dtype=torch.float32))
    assert features[0].dtype == torch.float64


def test_fingerprint_is_stable_and_tracks_weights(tiny_sd_path: Path) -> None:
    first = load_backbone("auto", tiny_sd_path)
    second = load_backbone("auto", tiny_sd_path)
    print_ = first.fingerprint()
    assert len(print_) == 16 and print_ == second.fingerprint()
    with torch.no_grad():
        second.unet.conv_out.weight.mul_(1.01)
    assert second.fingerprint() != print_
    third = load_backbone("auto", tiny_sd_path, perception_timestep=100)
    assert third.fingerprint() != print_
