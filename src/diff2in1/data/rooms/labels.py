"""The rooms labels that follow from the renderer's geometry: boundaries and saliency.

Boundaries (``edge``) mark a pixel when it and its right or lower neighbour differ in any of:

- the surface they show: another class, or another object of the same class (the renderer's owner);
- depth: a jump of more than ``DEPTH_JUMP`` of the nearer depth (an occlusion);
- orientation: normals more than ``CREASE_DEG`` apart (a room corner, a box edge);

so boundaries are lines one pixel wide on the near-left/top side of each change. Saliency marks the
objects (boxes, spheres, cylinders) against the room's surfaces (floor, walls, ceiling).
"""

from __future__ import annotations

import numpy as np

DEPTH_JUMP = 0.25
CREASE_DEG = 30.0


def _changes(values: np.ndarray, differ) -> np.ndarray:
    """HxW bool: pixels whose value differs (by ``differ(a, b)``) from the right or lower neighbour."""
    out = np.zeros(values.shape[:2], dtype=bool)
    out[:, :-1] |= differ(values[:, :-1], values[:, 1:])
    out[:-1, :] |= differ(values[:-1, :], values[1:, :])
    return out


def boundaries(semseg: np.ndarray, owner: np.ndarray, depth: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """HxW float32 in {0, 1}: 1 on boundary pixels (see the module docstring).

    Args:
        semseg: HxW class index; owner: HxW object index (-1 = room surface); depth: HxW metres;
        normal: HxWx3 unit camera-space normals.
    """
    surface = _changes(semseg.astype(np.int64) * 1000 + owner.astype(np.int64), np.not_equal)
    jump = _changes(depth, lambda a, b: np.abs(a - b) > DEPTH_JUMP * np.minimum(a, b))
    cos_limit = np.cos(np.deg2rad(CREASE_DEG))
    crease = _changes(normal, lambda a, b: (a * b).sum(axis=-1) < cos_limit)
    return (surface | jump | crease).astype(np.float32)


def saliency(owner: np.ndarray) -> np.ndarray:
    """HxW float32 in {0, 1}: 1 where an object is seen, 0 on the room's surfaces."""
    return (owner >= 0).astype(np.float32)
