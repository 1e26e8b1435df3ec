"""Diff-2-in-1: a frozen diffusion model used both for dense perception and for creating labelled data.

``from diff2in1 import Diff2in1Pipeline`` is the Python entry point (see the README's "Python" section). The
names are imported on first use, so that ``import diff2in1`` (and ``diff2in1 --help``) stays free of torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Public name -> the module (below the package root) that defines it.
_EXPORTS = {
    "Diff2in1Pipeline": "diff2in1.perception.pipeline",
    "Diff2in1Output": "diff2in1.perception.output",
    "Diff2in1CreationOutput": "diff2in1.perception.output",
    "PerceptionModel": "diff2in1.heads.model",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'diff2in1' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
