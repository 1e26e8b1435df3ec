"""`diff2in1 data preview`: a picture of samples with their labels (image | depth | normals | classes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..config import option
from ..tasks import DEPTH, NORMAL, SEMSEG

TILE_NAMES = {"image": "image", DEPTH: "depth (bright = near)", NORMAL: "normals", SEMSEG: "classes"}
GAP = 8  # white pixels between columns of samples
WHITE = (255, 255, 255)


@dataclass
class PreviewConfig:
    data: str = option("data/rooms", "data set folder in the project layout")
    out: str = option("docs/rooms_samples.png", "PNG to write")
    split: str = option("train", "split to show")
    num: int = option(8, "number of samples")
    scale: int = option(2, "integer upscaling of each tile")
    columns: int = option(1, "samples side by side (2 puts 8 samples in 4 rows)")


def _font(size: int = 11) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # scalable with FreeType (Pillow >= 10.1)
    except TypeError:
        return ImageFont.load_default()


def _wrap(text: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    """Greedy word wrap so that no line is wider than ``width`` pixels (long captions are not cut off)."""
    draw, lines = ImageDraw.Draw(Image.new("RGB", (1, 1))), [""]
    for word in text.split():
        candidate = f"{lines[-1]} {word}".strip()
        if lines[-1] and draw.textlength(candidate, font=font) > width:
            lines.append(word)
        else:
            lines[-1] = candidate
    return lines


def _text_strip(lines: list[str], width: int, font: ImageFont.ImageFont, line_height: int = 14) -> np.ndarray:
    strip = Image.new("RGB", (width, line_height * len(lines) + 2), WHITE)
    draw = ImageDraw.Draw(strip)
    for i, line in enumerate(lines):
        draw.text((3, 1 + i * line_height), line, fill=(0, 0, 0), font=font)
    return np.asarray(strip)


def _tiles(item: dict, num_classes: int) -> dict[str, np.ndarray]:
    from ..heads.pictures import depth_to_rgb, normal_to_rgb, semseg_to_rgb  # torch: not when parsing options

    tiles = {"image": (item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)}
    if DEPTH in item:
        tiles[DEPTH] = depth_to_rgb(item[DEPTH][0].numpy(), mask=item["mask"][DEPTH].numpy())
    if NORMAL in item:
        tiles[NORMAL] = normal_to_rgb(item[NORMAL].numpy())
    if SEMSEG in item:
        tiles[SEMSEG] = semseg_to_rgb(item[SEMSEG].numpy(), num_classes)
    return tiles


def _panel(tiles: dict[str, np.ndarray], caption: str, scale: int, font: ImageFont.ImageFont) -> np.ndarray:
    """One sample: its tiles side by side over its (wrapped) caption."""
    row = np.concatenate([np.kron(t, np.ones((scale, scale, 1), dtype=np.uint8)) for t in tiles.values()], 1)
    return np.concatenate([row, _text_strip(_wrap(caption, font, row.shape[1] - 6), row.shape[1], font)], 0)


def _legend(classes: list[str], width: int, font: ImageFont.ImageFont, line_height: int = 16) -> np.ndarray:
    from ..heads.pictures import semseg_palette

    """'classes: <swatch> floor <swatch> wall ...', flowing onto more lines when wider than ``width``."""
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    entries = [("classes:", None)] + list(zip(classes, semseg_palette(len(classes))))
    places, x, y = [], 3, 2
    for name, colour in entries:
        step = int(measure.textlength(name, font=font)) + (14 if colour is not None else 0) + 10
        if x > 3 and x + step > width:
            x, y = 3, y + line_height
        places.append((x, y, name, colour))
        x += step
    strip = Image.new("RGB", (width, y + line_height + 2), WHITE)
    draw = ImageDraw.Draw(strip)
    for x, y, name, colour in places:
        if colour is not None:
            draw.rectangle((x, y + 1, x + 10, y + 11), fill=tuple(int(c) for c in colour))
            x += 14
        draw.text((x, y), name, fill=(0, 0, 0), font=font)
    return np.asarray(strip)


def _stack(pictures: list[np.ndarray], axis: int, gap: int = 0) -> np.ndarray:
    """Concatenate pictures along ``axis`` (0 down, 1 across), padding the other side with white."""
    other = 1 - axis
    size = max(p.shape[other] for p in pictures)
    padded = []
    for i, p in enumerate(pictures):
        pad = [(0, 0), (0, 0), (0, 0)]
        pad[other] = (0, size - p.shape[other])
        pad[axis] = (0, gap if i < len(pictures) - 1 else 0)
        padded.append(np.pad(p, pad, constant_values=255))
    return np.concatenate(padded, axis=axis)


def write_preview(config: PreviewConfig) -> Path:
    from .dataset import LayoutDataset

    """Write ``config.num`` samples of ``config.split``, ``config.columns`` side by side, each as
    image | depth | normals | classes over its caption, with column titles and a class legend."""
    if config.num < 1 or config.scale < 1 or config.columns < 1:
        raise ValueError(f"preview: need num, scale and columns >= 1, got {config}")
    dataset = LayoutDataset(config.data, config.split)
    if len(dataset) == 0:
        raise ValueError(f"{dataset.root / config.split / 'image'}: no samples to preview")
    font = _font()
    panels, tile_width = [], 0
    for index in range(min(config.num, len(dataset))):
        item = dataset[index]
        tiles = _tiles(item, dataset.num_classes)
        tile_width = next(iter(tiles.values())).shape[1] * config.scale
        panels.append(_panel(tiles, item["caption"], config.scale, font))
    header = _stack([_text_strip([TILE_NAMES[name]], tile_width, font) for name in tiles], axis=1)
    rows = [panels[i : i + config.columns] for i in range(0, len(panels), config.columns)]
    picture = _stack([_stack(row, axis=1, gap=GAP) for row in [[header] * len(rows[0])] + rows], axis=0)
    if SEMSEG in tiles:
        picture = _stack([picture, _legend(dataset.meta["classes"], picture.shape[1], font)], axis=0)
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(out)
    return out
