"""Shape checks shared by the metric functions, with errors that say what was expected."""

from __future__ import annotations

from torch import Tensor


def as_bhw(x: Tensor, name: str) -> Tensor:
    """Return ``x`` as BxHxW, accepting Bx1xHxW; raise ValueError naming ``name`` for any other shape."""
    if x.dim() == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.dim() != 3:
        raise ValueError(f"{name}: expected shape BxHxW or Bx1xHxW, found {tuple(x.shape)}")
    return x


def check_same_shape(x: Tensor, name: str, reference: Tensor, reference_name: str) -> None:
    """Raise ValueError unless ``x`` has the shape of ``reference``."""
    if x.shape != reference.shape:
        raise ValueError(
            f"{name}: shape {tuple(x.shape)} does not match {reference_name} {tuple(reference.shape)}; "
            "resize the prediction to the ground-truth resolution before scoring"
        )
