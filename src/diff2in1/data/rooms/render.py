"""Ray-cast a room: RGB with Lambertian shading and hard shadows, plus exact depth, normals and classes."""

from __future__ import annotations

import numpy as np

from . import raycast
from .scene import BOX, CEILING, CLASSES, CYLINDER, FLOOR, SPHERE, WALL, Primitive, Scene
from .textures import ceiling_albedo, floor_albedo, object_albedo, wall_albedo


def intrinsics(size: int, fov_deg: float) -> dict[str, float]:
    """Pinhole intrinsics in pixels for a square image (pixel centres at integer + 0.5)."""
    focal = (size / 2) / np.tan(np.radians(fov_deg) / 2)
    return {"fx": float(focal), "fy": float(focal), "cx": size / 2, "cy": size / 2}


def camera_rays(size: int, fov_deg: float) -> np.ndarray:
    """Unit ray directions in camera space (x right, y down, z forward), (size*size)x3, row-major."""
    k = intrinsics(size, fov_deg)
    v, u = np.mgrid[0:size, 0:size] + 0.5
    dirs = np.stack([(u - k["cx"]) / k["fx"], (v - k["cy"]) / k["fy"], np.ones_like(u)], axis=-1).reshape(-1, 3)
    return dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def intersect_object(obj: Primitive, origins: np.ndarray, dirs: np.ndarray):
    if obj.kind == BOX:
        return raycast.box(origins, dirs, obj.centre, obj.size, obj.yaw)
    if obj.kind == SPHERE:
        return raycast.sphere(origins, dirs, obj.centre, float(obj.size[0]))
    return raycast.cylinder(origins, dirs, obj.centre, float(obj.size[0]), float(obj.size[1]))


def _albedo(scene: Scene, points: np.ndarray, labels: np.ndarray, owner: np.ndarray) -> np.ndarray:
    albedo = np.zeros_like(points)
    for cls, fn in ((FLOOR, floor_albedo), (WALL, wall_albedo), (CEILING, ceiling_albedo)):
        sel = labels == cls
        if sel.any():
            albedo[sel] = fn(scene, points[sel])
    for index, obj in enumerate(scene.objects):
        sel = owner == index
        if sel.any():
            albedo[sel] = object_albedo(obj, points[sel])
    return albedo


def _direct_light(scene: Scene, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    to_light = scene.light_position - points
    dist = np.linalg.norm(to_light, axis=1)
    light_dir = to_light / dist[:, None]
    lambert = np.clip((normals * light_dir).sum(axis=1), 0.0, None)
    starts = points + normals * 1e-3
    lit = np.ones(len(points), dtype=bool)
    for obj in scene.objects:
        t, _ = intersect_object(obj, starts, light_dir)
        lit &= ~(t < dist)
    return scene.light_intensity * lambert * lit / (1.0 + dist**2)


def render_scene(scene: Scene, size: int, fov_deg: float = 60.0) -> dict:
    """Render ``scene`` from its camera.

    Returns ``image`` uint8 SxSx3; ``depth`` float32 SxS metres along the optical axis; ``normal``
    float32 SxSx3 unit camera-space normals (x right, y down, z forward; facing the camera);
    ``semseg`` uint8 SxS indices into CLASSES; ``owner`` int64 SxS object index (-1 = a room surface);
    ``visible`` {object index: pixel count}.
    """
    cam_dirs = camera_rays(size, fov_deg)
    rot = scene.camera_rotation
    dirs = cam_dirs @ rot.T
    origin = scene.camera_position
    t, normals, axis = raycast.room_exit(origin, dirs, scene.room)
    labels = np.where(axis == 1, np.where(dirs[:, 1] < 0, FLOOR, CEILING), WALL)
    owner = np.full(len(dirs), -1)
    origins = np.broadcast_to(origin, dirs.shape)
    for index, obj in enumerate(scene.objects):
        t_obj, n_obj = intersect_object(obj, origins, dirs)
        closer = t_obj < t
        t = np.where(closer, t_obj, t)
        normals[closer] = n_obj[closer]
        labels[closer] = BOX if obj.kind == BOX else SPHERE if obj.kind == SPHERE else CYLINDER
        owner[closer] = index
    points = origin + dirs * t[:, None]
    radiance = _albedo(scene, points, labels, owner) * (scene.ambient + _direct_light(scene, points, normals))[:, None]
    rgb = np.clip(radiance, 0.0, 1.0) ** (1 / 2.2)
    cam_normals = normals @ rot
    flip = (cam_normals * cam_dirs).sum(axis=1) > 0
    cam_normals[flip] *= -1
    shape = (size, size)
    return {
        "image": (rgb.reshape(*shape, 3) * 255 + 0.5).astype(np.uint8),
        "depth": (t * cam_dirs[:, 2]).reshape(shape).astype(np.float32),
        "normal": cam_normals.reshape(*shape, 3).astype(np.float32),
        "semseg": labels.reshape(shape).astype(np.uint8),
        "owner": owner.reshape(shape),
        "visible": {i: int(c) for i, c in zip(*np.unique(owner[owner >= 0], return_counts=True))},
    }


__all__ = ["CLASSES", "camera_rays", "intrinsics", "render_scene"]
