"""CLIP prompt encoding with a cache: the empty prompt once, recent captions by text."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from transformers import CLIPTextModel, CLIPTokenizer


class PromptEncoder(nn.Module):
    """Tokenizer + frozen CLIP text encoder, caching encodings (they never change: the encoder is frozen).

    Args:
        tokenizer: the model's CLIP tokenizer (pads/truncates to ``model_max_length``, 77 for SD).
        text_encoder: the model's CLIP text encoder; its last hidden state conditions the UNet.
        cache_size: how many distinct captions to keep (least recently used dropped first).

    The caches are dropped when the module is moved or cast (``.to()``), so they always match its device/dtype.
    """

    def __init__(self, tokenizer: CLIPTokenizer, text_encoder: CLIPTextModel, cache_size: int = 256) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self.cache_size = int(cache_size)
        self._empty: torch.Tensor | None = None
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    @property
    def max_length(self) -> int:
        return int(self.tokenizer.model_max_length)

    def _apply(self, fn, recurse=True):  # noqa: ANN001 (torch's signature)
        self.clear_cache()
        return super()._apply(fn, recurse)

    def clear_cache(self) -> None:
        """Forget every cached encoding."""
        self._empty = None
        self._cache.clear()

    @torch.no_grad()
    def _encode_batch(self, captions: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            captions, padding="max_length", max_length=self.max_length, truncation=True, return_tensors="pt"
        )
        device = next(self.text_encoder.parameters()).device
        return self.text_encoder(tokens.input_ids.to(device))[0]

    def empty(self) -> torch.Tensor:
        """The empty prompt's encoding, 1xLxD (computed once; do not modify it in place)."""
        if self._empty is None:
            self._empty = self._encode_batch([""])
        return self._empty

    def forward(self, captions: list[str]) -> torch.Tensor:
        """Encode captions -> BxLxD (L = 77 tokens for SD, D the text encoder's hidden size)."""
        if isinstance(captions, str):
            raise TypeError("captions must be a list of strings, one per image, not a single string")
        missing = list(dict.fromkeys(c for c in captions if c and c not in self._cache))
        if missing:
            for caption, row in zip(missing, self._encode_batch(missing)):
                self._cache[caption] = row.unsqueeze(0).clone()
        rows = []
        for caption in captions:
            if caption:
                self._cache.move_to_end(caption)
                rows.append(self._cache[caption])
            else:
                rows.append(self.empty())
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return torch.cat(rows) if rows else self.empty()[:0]
