"""CLIP tokenizer built from the real BPE vocabulary; cached prompt encodings."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import CLIPTokenizer

from diff2in1.backbones import load_backbone


def test_tokenizer_uses_real_clip_bpe_ids(tiny_sd_path: Path) -> None:
    tokenizer = CLIPTokenizer.from_pretrained(tiny_sd_path, subfolder="tokenizer")
    ids = tokenizer("a room with a red box").input_ids
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert len(tokenizer) == 49408
    assert ids[0] == 49406 and ids[-1] == 49407
    assert tokens[1:-1] == ["a</w>", "room</w>", "with</w>", "a</w>", "red</w>", "box</w>"]
    assert ids[1] == 320  # 'a</w>' in CLIP's vocabulary
    assert tokenizer.model_max_length == 77


def test_empty_prompt_is_encoded_once(sd_backbone) -> None:
    empty = sd_backbone.encode_text(None)
    assert empty.shape == (1, 77, 32)
    assert sd_backbone.encode_text(None) is empty
    assert torch.equal(sd_backbone.encode_text([""]), empty)


def test_captions_are_cached_by_text(sd_backbone) -> None:
    first = sd_backbone.encode_text(["a room with a red box", "a blue chair"])
    assert first.shape == (2, 77, 32)
    assert not torch.equal(first[0], first[1])
    cached = sd_backbone.text._cache["a blue chair"]
    again = sd_backbone.encode_text(["a blue chair", "a room with a red box"])
    assert sd_backbone.text._cache["a blue chair"] is cached
    assert torch.equal(again, first.flip(0))


def test_caption_cache_is_bounded_and_follows_the_module(tiny_sd_path: Path) -> None:
    backbone = load_backbone("stable_diffusion", tiny_sd_path, text_cache_size=2)
    reference = backbone.encode_text(["one", "two", "three"])
    assert list(backbone.text._cache) == ["two", "three"]
    assert torch.equal(backbone.encode_text(["one"]), reference[:1])
    backbone.to(torch.float64)
    assert not backbone.text._cache
    assert backbone.encode_text(["one"]).dtype == torch.float64


def test_pixel_backbone_takes_no_text(pixel_backbone) -> None:
    assert not pixel_backbone.takes_text
    assert pixel_backbone.encode_text(["a room"]) is None
