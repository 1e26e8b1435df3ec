"""Rooms: procedural indoor scenes, ray-cast with exact depth, normals, classes and captions."""

from .generate import RoomsConfig, generate_rooms
from .render import render_scene
from .scene import CLASSES, sample_scene

__all__ = ["CLASSES", "RoomsConfig", "generate_rooms", "render_scene", "sample_scene"]
