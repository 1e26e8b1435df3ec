"""Generation quality without downloaded networks: a judge CNN trained on the domain (rooms), the Fréchet
distance of its embeddings between generated and real images, and the class histograms of its segmentation.

Modules: `judge` (the network, loading the shipped one, training), `frechet` (distance, statistics,
sampling, the report), `fd` (the ``diff2in1 quality fd`` command), `configs` (the commands' options).
"""

from __future__ import annotations

import importlib
from typing import Any

# Public names and their modules; imported on first use so that `diff2in1 --help` does not load torch.
_EXPORTS = {
    "RoomsJudge": "judge", "load_judge": "judge", "train_judge": "judge", "evaluate_judge": "judge",
    "frechet_distance": "frechet", "embedding_stats": "frechet", "class_histogram": "frechet",
    "compare_images": "frechet", "generate_samples": "frechet", "generation_report": "frechet",
    "run_fd": "fd", "FdConfig": "configs", "JudgeConfig": "configs",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
