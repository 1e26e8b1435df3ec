"""Procedural albedo per material, evaluated at world-space hit points (numpy, N points at a time)."""

from __future__ import annotations

import numpy as np

from .scene import COLOURS, Primitive, Scene


def _hash(values: np.ndarray) -> np.ndarray:
    """Deterministic pseudo-random numbers in [0, 1) from integer cells."""
    return np.modf(np.sin(values * 12.9898 + 78.233) * 43758.5453)[0] % 1.0


def floor_albedo(scene: Scene, points: np.ndarray) -> np.ndarray:
    base = np.array(COLOURS[scene.floor_colour])
    x, z = points[:, 0] + scene.phase, points[:, 2] + scene.phase
    if scene.floor_style == "wooden":
        plank = np.floor(z / 0.2)
        shade = 0.8 + 0.35 * _hash(plank) + 0.06 * np.sin(x * 23.0 + plank * 3.1)
    elif scene.floor_style == "tiled":
        checker = (np.floor(x / 0.5) + np.floor(z / 0.5)) % 2
        grout = (np.abs((x / 0.5) % 1 - 0.5) > 0.46) | (np.abs((z / 0.5) % 1 - 0.5) > 0.46)
        shade = np.where(grout, 0.45, 0.8 + 0.25 * checker)
    else:
        shade = 0.9 + 0.06 * np.sin(x * 41.0) * np.sin(z * 37.0) + 0.04 * np.sin((x + z) * 9.0)
    return base[None] * shade[:, None]


def wall_albedo(scene: Scene, points: np.ndarray) -> np.ndarray:
    base = np.array(COLOURS[scene.wall_colour])
    along = points[:, 0] + points[:, 2] + scene.phase
    shade = 0.92 + 0.07 * (np.sin(along * 2 * np.pi / 0.25) > 0.6)
    albedo = base[None] * shade[:, None]
    skirting = points[:, 1] < 0.12
    albedo[skirting] = COLOURS["white"]
    return albedo


def ceiling_albedo(scene: Scene, points: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.array(COLOURS["white"]) * 0.95, points.shape).copy()


def object_albedo(obj: Primitive, points: np.ndarray) -> np.ndarray:
    base = np.array(COLOURS[obj.colour])
    local = points - obj.centre
    if obj.pattern == 1:
        shade = 0.75 + 0.3 * (np.sin(local[:, 1] * 2 * np.pi / 0.15) > 0)
    elif obj.pattern == 2:
        cells = np.floor(local / 0.12).sum(axis=1) % 2
        shade = 0.75 + 0.3 * cells
    else:
        shade = np.ones(len(points))
    return base[None] * shade[:, None]
