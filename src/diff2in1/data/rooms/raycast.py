"""Vectorised ray-primitive intersections (numpy). Rays: origins (3,) shared, directions Nx3 unit.

Each function returns (t, normal): t is N distances along the ray (inf = miss), normal Nx3 world-space
unit normals at the hit (undefined where t is inf).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-4


def room_exit(origin: np.ndarray, dirs: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance to the inside of the room box [0, room]; also the axis (0 x, 1 y, 2 z) it leaves through."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(dirs > 0, room, 0.0)
        t_axes = np.where(np.abs(dirs) > 1e-12, (bound - origin) / dirs, np.inf)
    axis = np.argmin(t_axes, axis=1)
    t = t_axes[np.arange(len(dirs)), axis]
    normal = np.zeros_like(dirs)
    normal[np.arange(len(dirs)), axis] = -np.sign(dirs[np.arange(len(dirs)), axis])
    return t, normal, axis


def _yaw_matrix(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def box(origins: np.ndarray, dirs: np.ndarray, centre: np.ndarray, half: np.ndarray, yaw: float):
    """Box rotated by ``yaw`` about the vertical axis (slab method in its own frame)."""
    rot = _yaw_matrix(yaw)
    o = (origins - centre) @ rot
    d = dirs @ rot
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / np.where(np.abs(d) > 1e-12, d, 1e-12)
        t1 = (-half - o) * inv
        t2 = (half - o) * inv
    near = np.minimum(t1, t2)
    far = np.maximum(t1, t2).min(axis=1)
    near_axis = np.argmax(near, axis=1)
    t_near = near.max(axis=1)
    hit = (far >= t_near) & (t_near > EPS)
    t = np.where(hit, t_near, np.inf)
    local_normal = np.zeros_like(d)
    rows = np.arange(len(d))
    local_normal[rows, near_axis] = -np.sign(d[rows, near_axis])
    return t, local_normal @ rot.T


def sphere(origins: np.ndarray, dirs: np.ndarray, centre: np.ndarray, radius: float):
    oc = origins - centre
    b = np.einsum("ij,ij->i", oc, dirs) if oc.ndim == 2 else dirs @ oc
    c = (oc * oc).sum(-1) - radius * radius
    disc = b * b - c
    root = np.sqrt(np.maximum(disc, 0.0))
    t = -b - root
    t = np.where(t > EPS, t, -b + root)
    t = np.where((disc > 0) & (t > EPS), t, np.inf)
    points = origins + dirs * np.where(np.isfinite(t), t, 0.0)[:, None]
    return t, (points - centre) / radius


def cylinder(origins: np.ndarray, dirs: np.ndarray, base: np.ndarray, radius: float, height: float):
    """Vertical cylinder standing on ``base`` (its bottom centre), with a top cap."""
    o = np.broadcast_to(origins - base, dirs.shape)
    a = dirs[:, 0] ** 2 + dirs[:, 2] ** 2
    b = o[:, 0] * dirs[:, 0] + o[:, 2] * dirs[:, 2]
    c = o[:, 0] ** 2 + o[:, 2] ** 2 - radius * radius
    disc = b * b - a * c
    safe_a = np.where(a > 1e-12, a, 1.0)
    root = np.sqrt(np.maximum(disc, 0.0))
    t_side = np.inf * np.ones(len(dirs))
    for sign in (1.0, -1.0):  # nearer root first when outside
        cand = (-b - sign * root) / safe_a
        y = o[:, 1] + cand * dirs[:, 1]
        ok = (disc > 0) & (a > 1e-12) & (cand > EPS) & (y >= 0) & (y <= height) & ~np.isfinite(t_side)
        t_side = np.where(ok, cand, t_side)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cap = np.where(np.abs(dirs[:, 1]) > 1e-12, (height - o[:, 1]) / dirs[:, 1], np.inf)
    cap_xz = o[:, [0, 2]] + t_cap[:, None] * dirs[:, [0, 2]]
    cap_ok = (t_cap > EPS) & ((cap_xz**2).sum(-1) <= radius * radius)
    t_cap = np.where(cap_ok, t_cap, np.inf)
    use_cap = t_cap < t_side
    t = np.minimum(t_side, t_cap)
    points = o + dirs * np.where(np.isfinite(t), t, 0.0)[:, None]
    normal = np.zeros_like(dirs)
    normal[:, 0] = points[:, 0] / radius
    normal[:, 2] = points[:, 2] / radius
    normal[use_cap] = (0.0, 1.0, 0.0)
    return t, normal
