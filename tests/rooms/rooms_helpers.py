"""Geometry helpers for the rooms tests, computed from depth alone (independently of the renderer's normals)."""

from __future__ import annotations

import numpy as np

from diff2in1.data.rooms import render_scene, sample_scene
from diff2in1.data.rooms.render import intrinsics
from diff2in1.data.rooms.scene import BOX, CEILING, CYLINDER, FLOOR, WALL, Primitive, Scene

FOV = 60.0
PLANAR_CLASSES = (FLOOR, WALL, CEILING, BOX)


def render(seed: int, size: int) -> tuple[Scene, dict]:
    scene = sample_scene(np.random.default_rng(seed))
    return scene, render_scene(scene, size, FOV)


def backproject(depth: np.ndarray, fov: float = FOV) -> np.ndarray:
    """HxW depth (metres along the optical axis) -> HxWx3 camera-space points (x right, y down, z forward)."""
    size = depth.shape[0]
    k = intrinsics(size, fov)
    v, u = np.mgrid[0:size, 0:size] + 0.5
    d = depth.astype(np.float64)
    return np.stack([(u - k["cx"]) / k["fx"] * d, (v - k["cy"]) / k["fy"] * d, d], axis=-1)


def depth_normals(depth: np.ndarray, fov: float = FOV) -> np.ndarray:
    """Normals of the inner (H-2)x(W-2) pixels from central differences of the back-projected points.

    cross(down, right) points towards the camera for a visible surface in x-right, y-down, z-forward.
    """
    p = backproject(depth, fov)
    right = p[1:-1, 2:] - p[1:-1, :-2]
    down = p[2:, 1:-1] - p[:-2, 1:-1]
    n = np.cross(down, right)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def _neighbourhoods(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[:2]
    return np.stack([a[i : h - 2 + i, j : w - 2 + j] for i in range(3) for j in range(3)])


def planar_mask(depth: np.ndarray, semseg: np.ndarray) -> np.ndarray:
    """Inner pixels whose 3x3 neighbourhood is one planar class and one plane.

    On a plane, inverse depth is affine in the pixel coordinates, so its second differences vanish; they do
    not across depth discontinuities, box edges or room corners.
    """
    classes = _neighbourhoods(semseg)
    one_class = (classes == classes[4]).all(axis=0) & np.isin(classes[4], PLANAR_CLASSES)
    inv = _neighbourhoods(1.0 / depth.astype(np.float64))
    centre = inv[4]
    second = [inv[3] + inv[5], inv[1] + inv[7], inv[0] + inv[8], inv[2] + inv[6]]  # row, column, diagonals
    flat = np.all([np.abs(s - 2 * centre) < 1e-3 * centre for s in second], axis=0)
    return one_class & flat


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles between unit vectors along the last axis, in degrees."""
    return np.degrees(np.arccos(np.clip((a * b).sum(axis=-1), -1.0, 1.0)))


def to_world(scene: Scene, camera_vectors: np.ndarray, points: bool) -> np.ndarray:
    """...x3 camera-space points (or directions) -> world space (y up, floor y = 0)."""
    world = camera_vectors @ scene.camera_rotation.T
    return world + scene.camera_position if points else world


def surface_distance(obj: Primitive, points: np.ndarray) -> np.ndarray:
    """Unsigned distance (metres) of Nx3 world points to the surface of ``obj`` (signed-distance formulas)."""
    local = points - obj.centre
    if obj.kind == BOX:
        c, s = np.cos(obj.yaw), np.sin(obj.yaw)
        yaw = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])  # rotation about the vertical axis
        q = np.abs(local @ yaw) - obj.size
        return np.abs(np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0))
    radius = float(obj.size[0])
    if obj.kind == CYLINDER:
        height = float(obj.size[1])  # the centre is the base's
        d = np.stack([np.hypot(local[:, 0], local[:, 2]) - radius, np.abs(local[:, 1] - height / 2) - height / 2], 1)
        return np.abs(np.linalg.norm(np.maximum(d, 0), axis=1) + np.minimum(d.max(axis=1), 0))
    return np.abs(np.linalg.norm(local, axis=1) - radius)


def object_pixels(scene: Scene, out: dict) -> np.ndarray:
    """HxW index of the object whose surface each object-class pixel lies on (-1 elsewhere), from depth alone."""
    points = to_world(scene, backproject(out["depth"]), points=True).reshape(-1, 3)
    on_object = out["semseg"].reshape(-1) >= BOX
    owner = np.full(len(points), -1)
    if scene.objects and on_object.any():
        dist = np.stack([surface_distance(obj, points[on_object]) for obj in scene.objects])
        assert dist.min(axis=0).max() < 1e-3, "an object pixel lies on no object's surface"
        owner[on_object] = dist.argmin(axis=0)
    return owner.reshape(out["semseg"].shape)
