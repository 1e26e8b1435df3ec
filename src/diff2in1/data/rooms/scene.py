"""Random room layouts: an axis-aligned room, a camera inside it, furniture-like primitives, one light.

World frame: x and z span the floor, y is up, the floor is y = 0. All lengths in metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLASSES = ["floor", "wall", "ceiling", "box", "sphere", "cylinder"]
FLOOR, WALL, CEILING, BOX, SPHERE, CYLINDER = range(len(CLASSES))

# Named base colours (linear RGB in [0, 1]); names feed the captions.
COLOURS = {
    "red": (0.72, 0.12, 0.10), "orange": (0.85, 0.42, 0.10), "yellow": (0.88, 0.78, 0.18),
    "green": (0.20, 0.55, 0.22), "teal": (0.10, 0.50, 0.50), "blue": (0.15, 0.28, 0.70),
    "purple": (0.45, 0.20, 0.60), "pink": (0.90, 0.50, 0.60), "white": (0.85, 0.85, 0.82),
    "grey": (0.45, 0.45, 0.47), "black": (0.08, 0.08, 0.09), "brown": (0.45, 0.28, 0.14),
}
FLOOR_STYLES = {"wooden": ("brown", "orange"), "tiled": ("white", "grey"), "carpeted": ("blue", "red", "green", "grey")}
WALL_COLOURS = ("white", "yellow", "blue", "green", "pink", "grey", "teal")
OBJECT_COLOURS = tuple(c for c in COLOURS if c != "white")


@dataclass
class Primitive:
    """A furniture-like object. kind: BOX (centre, half-size, yaw), SPHERE (centre, radius),
    CYLINDER (centre of base, radius, height)."""

    kind: int
    centre: np.ndarray
    size: np.ndarray
    yaw: float
    colour: str
    pattern: int  # 0 plain, 1 stripes, 2 checks


@dataclass
class Scene:
    room: np.ndarray  # (width x, height y, depth z)
    floor_style: str
    floor_colour: str
    wall_colour: str
    camera_position: np.ndarray
    camera_rotation: np.ndarray  # 3x3, columns = camera x (right), y (down), z (forward) in world
    light_position: np.ndarray
    light_intensity: float
    ambient: float
    phase: float  # random offset of the procedural textures
    objects: list[Primitive] = field(default_factory=list)


def _look_rotation(yaw: float, pitch: float) -> np.ndarray:
    forward = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    # A right-handed OpenCV camera (x right, y down, z forward) in a right-handed, y-up world.
    right = np.cross(forward, np.array([0.0, 1.0, 0.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=1)


def _place_objects(rng: np.random.Generator, room: np.ndarray, camera: np.ndarray) -> list[Primitive]:
    objects: list[Primitive] = []
    footprints: list[tuple[float, float, float]] = [(camera[0], camera[2], 0.5)]
    for _ in range(int(rng.integers(2, 7))):
        kind = int(rng.choice([BOX, BOX, SPHERE, CYLINDER]))
        if kind == BOX:
            half = rng.uniform([0.25, 0.2, 0.25], [0.8, 0.6, 0.8])
        elif kind == SPHERE:
            half = np.full(3, rng.uniform(0.2, 0.5))
        else:
            half = np.array([rng.uniform(0.15, 0.4), rng.uniform(0.3, 0.9), 0.0])
        reach = float(np.hypot(half[0], half[2]) if kind == BOX else half[0])
        for _attempt in range(10):
            x, z = rng.uniform(reach + 0.05, room[[0, 2]] - reach - 0.05)
            if all(np.hypot(x - fx, z - fz) > reach + fr for fx, fz, fr in footprints):
                break
        else:
            continue
        footprints.append((x, z, reach))
        if kind == BOX:
            centre, size = np.array([x, half[1], z]), half
        elif kind == SPHERE:
            centre, size = np.array([x, half[0], z]), half
        else:
            centre, size = np.array([x, 0.0, z]), np.array([half[0], 2 * half[1], 0.0])
        objects.append(Primitive(kind, centre, size, float(rng.uniform(0, np.pi)), str(rng.choice(OBJECT_COLOURS)),
                                 int(rng.integers(0, 3))))
    return objects


def sample_scene(rng: np.random.Generator) -> Scene:
    """Draw one random room with a camera, a light and 2-6 objects."""
    room = rng.uniform([3.5, 2.5, 3.5], [7.0, 3.2, 7.0])
    camera = np.array([rng.uniform(0.4, room[0] - 0.4), rng.uniform(1.0, 1.8), rng.uniform(0.4, room[2] - 0.4)])
    # Look roughly towards the room's centre so most views see furniture, not a blank wall.
    to_centre = room[[0, 2]] / 2 - camera[[0, 2]]
    yaw = float(np.arctan2(to_centre[0], to_centre[1]) + rng.uniform(-0.7, 0.7))
    pitch = float(rng.uniform(-0.45, 0.05))
    floor_style = str(rng.choice(list(FLOOR_STYLES)))
    light = np.array([rng.uniform(0.3, room[0] - 0.3), room[1] - 0.15, rng.uniform(0.3, room[2] - 0.3)])
    return Scene(
        room=room,
        floor_style=floor_style,
        floor_colour=str(rng.choice(FLOOR_STYLES[floor_style])),
        wall_colour=str(rng.choice(WALL_COLOURS)),
        camera_position=camera,
        camera_rotation=_look_rotation(yaw, pitch),
        light_position=light,
        light_intensity=float(rng.uniform(5.0, 10.0)),
        ambient=float(rng.uniform(0.15, 0.3)),
        phase=float(rng.uniform(0, 100)),
        objects=_place_objects(rng, room, camera),
    )
