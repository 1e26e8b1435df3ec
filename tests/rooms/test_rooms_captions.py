"""Captions name the floor, the walls and the objects one can see, and nothing hidden."""

from __future__ import annotations

import re
from collections import Counter

from rooms_helpers import object_pixels, render

from diff2in1.data.rooms.captions import caption_scene
from diff2in1.data.rooms.scene import BOX, CYLINDER, SPHERE

SIZE = 64
KINDS = {"box": BOX, "boxes": BOX, "sphere": SPHERE, "spheres": SPHERE, "cylinder": CYLINDER, "cylinders": CYLINDER}
COUNTS = {"a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
PHRASE = re.compile(r"\b(a|an|two|three|four|five|six) (\w+) (boxes|box|spheres|sphere|cylinders|cylinder)\b")


def named_objects(caption: str) -> Counter:
    """{(colour, kind): count} of the object phrases of a caption."""
    named: Counter = Counter()
    for n, colour, kind in PHRASE.findall(caption):
        named[colour, KINDS[kind]] += COUNTS[n]
    return named


def test_captions_name_what_is_visible():
    hidden_checked = 0
    for seed in range(40):
        scene, out = render(seed, SIZE)
        caption = caption_scene(scene, out["visible"], SIZE * SIZE)
        # Floor and walls always, then object phrases only (each replaced by X here).
        start = f"a room with a {scene.floor_style} floor"
        assert re.fullmatch(rf"{start}(, {scene.wall_colour} walls(, X)* and X| and {scene.wall_colour} walls)",
                            PHRASE.sub("X", caption)), caption
        named = named_objects(caption)
        owner = object_pixels(scene, out)  # which object each pixel shows, from depth and the scene alone
        pixels = [int((owner == i).sum()) for i in range(len(scene.objects))]
        seen = Counter((o.colour, o.kind) for o, n in zip(scene.objects, pixels) if n > 0)
        clearly_seen = Counter((o.colour, o.kind) for o, n in zip(scene.objects, pixels) if n >= 0.01 * SIZE * SIZE)
        assert all(named[key] <= seen[key] for key in named), (caption, seen)
        assert all(named[key] >= clearly_seen[key] for key in clearly_seen), (caption, clearly_seen)
        hidden_checked += sum(1 for o, n in zip(scene.objects, pixels) if n == 0 and (o.colour, o.kind) not in seen)
    assert hidden_checked > 5  # rooms often have furniture behind the camera


def test_caption_counts_and_articles():
    scene, _ = render(0, SIZE)
    scene.objects = scene.objects[:2]
    for obj in scene.objects:
        obj.colour, obj.kind = "orange", BOX
    enough = int(0.01 * SIZE * SIZE)
    assert caption_scene(scene, {0: enough, 1: enough}, SIZE * SIZE).endswith("walls and two orange boxes")
    assert caption_scene(scene, {0: enough}, SIZE * SIZE).endswith("walls and an orange box")
    assert caption_scene(scene, {0: 1, 1: 1}, SIZE * SIZE).endswith(f"floor and {scene.wall_colour} walls")
