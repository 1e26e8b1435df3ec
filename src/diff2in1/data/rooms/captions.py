"""One-line captions naming what a rendered room shows."""

from __future__ import annotations

from collections import Counter

from .scene import BOX, CLASSES, CYLINDER, SPHERE, Scene

_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
_NAMES = {BOX: "box", SPHERE: "sphere", CYLINDER: "cylinder"}

# Objects covering fewer pixels than this are not named: a caption describes what one can see.
MIN_VISIBLE_FRACTION = 0.002


def _phrase(colour: str, name: str, count: int) -> str:
    if count == 1:
        article = "an" if colour[0] in "aeiou" else "a"
        return f"{article} {colour} {name}"
    return f"{_NUMBERS.get(count, str(count))} {colour} {name}es" if name == "box" else f"{_NUMBERS.get(count, str(count))} {colour} {name}s"


def caption_scene(scene: Scene, visible: dict[int, int], num_pixels: int) -> str:
    """E.g. 'a room with a wooden floor, yellow walls, a red box and two blue spheres'."""
    seen = Counter(
        (scene.objects[i].colour, _NAMES[scene.objects[i].kind])
        for i, count in sorted(visible.items())
        if count >= MIN_VISIBLE_FRACTION * num_pixels
    )
    parts = [f"a {scene.floor_style} floor", f"{scene.wall_colour} walls"]
    parts += [_phrase(colour, name, n) for (colour, name), n in seen.items()]
    return "a room with " + ", ".join(parts[:-1]) + " and " + parts[-1]


__all__ = ["CLASSES", "caption_scene"]
