"""Shared fixtures: tiny diffusion models saved once per session in the folder layouts real models use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from diff2in1.backbones.tiny import clip_vocab_file, save_tiny_pixel_unet, save_tiny_stable_diffusion

# pytester runs pytest inside a test (tests/test_fixtures_required.py).
pytest_plugins = ("pytester",)

# Tiny models on a 2-core machine: a second thread costs more in synchronisation than it gains.
torch.set_num_threads(1)


def fixtures_required() -> bool:
    """Under CI (``CI=true``) or ``make test`` (``DIFF2IN1_REQUIRE_FIXTURES=1``) a missing fixture is an error:
    a test that skips there would pass without having run."""
    flags = (os.environ.get("CI", ""), os.environ.get("DIFF2IN1_REQUIRE_FIXTURES", ""))
    return any(flag.strip().lower() in ("1", "true", "yes") for flag in flags)


def missing_fixture(message: str) -> None:
    """Fail when fixtures are required, else skip, with the same message (what is missing, how to install it)."""
    if fixtures_required():
        pytest.fail(f"{message} (a missing fixture fails under CI=true / DIFF2IN1_REQUIRE_FIXTURES=1)",
                    pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def tiny_sd_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Stable Diffusion folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/).

    32x32 images, VAE /2, latent 4x16x16; features ``[64, 32]`` channels at strides ``[2, 2]``; real CLIP BPE
    tokenizer. Without CLIP's vocabulary file (from the open_clip package, which ``make test`` installs with
    ``--no-deps``) the tests that use it skip, or fail under CI (`fixtures_required`).
    """
    try:
        clip_vocab_file()
    except FileNotFoundError as error:
        missing_fixture(f"tiny Stable Diffusion needs CLIP's BPE vocabulary: {error}")
    return save_tiny_stable_diffusion(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="session")
def tiny_pixel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random pixel-space UNet2DModel folder (unet/, scheduler/): 16x16 images, features ``[32, 16]``
    channels at strides ``[1, 1]``."""
    return save_tiny_pixel_unet(tmp_path_factory.mktemp("tiny_pixel"))


class StoppedAfterSave(Exception):
    """Raised by `stop_after_save` right after a run's train state is written (a run stopped there)."""


@pytest.fixture
def stop_after_save(monkeypatch: pytest.MonkeyPatch):
    """``with stop_after_save(module, step): run()``: the run's ``save_train_state`` (looked up in ``module``)
    writes the state of ``step``, then the run stops with `StoppedAfterSave`, which the block expects."""
    import contextlib

    @contextlib.contextmanager
    def stopping(module, step: int):
        save = module.save_train_state

        def save_then_stop(out, modules, optimizer, schedule, at, **kwargs):
            save(out, modules, optimizer, schedule, at, **kwargs)
            if at == step:
                raise StoppedAfterSave

        with monkeypatch.context() as patch:
            patch.setattr(module, "save_train_state", save_then_stop)
            with pytest.raises(StoppedAfterSave):
                yield

    return stopping
