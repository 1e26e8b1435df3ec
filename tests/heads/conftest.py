"""Fixtures for the head tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def fused() -> torch.Tensor:
    """B=2, C=8, 8x8 fused features (stride 2 for a 16x16 image)."""
    return torch.randn(2, 8, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture(autouse=True)
def one_thread():
    """Run each test single-threaded: these tensors are tiny, and on a busy machine intra-op threads
    spin-wait for cores, which made a 50-step fit take seconds instead of a fraction of one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
