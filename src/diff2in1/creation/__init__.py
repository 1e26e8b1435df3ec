"""Multi-modal data creation (paper, section 2): one DDIM pass gives a new image and its labels.

- The DDIM loop itself (`create_batch`) lives in ``perception/ddim.py``: prediction, creation and training share it.
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
    "create_batch": "..perception.ddim",
    "denoising_timesteps": "..perception.ddim",
    "label_features": "..perception.ddim",
    "strength_from_t_star": "..perception.ddim",
    "t_star_from_strength": "..perception.ddim",
    "created_id": "writer",
    "is_complete": "writer",
    "provenance_path": "writer",
    "write_created": "writer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _EXPORTS[name]
    return getattr(importlib.import_module(module if module.startswith("..") else f".{module}", __name__), name)
