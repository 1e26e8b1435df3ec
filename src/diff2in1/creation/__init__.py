"""Multi-modal data creation (paper, section 2): one DDIM pass gives a new image and its labels.

- ``ddim.py``: `create_batch` (noise to t*, DDIM to 0, head on the final step's features), t* <-> strength.
- ``writer.py``: created samples into the project layout, image last, with per-sample provenance.
- ``create.py``: `create_dataset` (`diff2in1 create`): resumable, deterministic per sample, sharded.
- ``config.py``: `CreateConfig`, the command's options.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names re-exported lazily, so that importing the options does not import the models.
_EXPORTS = {
    "CreateConfig": "config",
    "create_dataset": "create",
    "sample_seed": "create",
    "create_batch": "ddim",
    "denoising_timesteps": "ddim",
    "label_features": "ddim",
    "strength_from_t_star": "ddim",
    "t_star_from_strength": "ddim",
    "created_id": "writer",
    "is_complete": "writer",
    "provenance_path": "writer",
    "write_created": "writer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
