"""The report's pictures: grids of images and labels with column headers, and training curves.

Pure drawing: every function takes arrays or tensors already in memory and returns a uint8 picture
(HxWx3) or writes one PNG atomically. Reading the run folder and running models is done elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..fileio import atomic_write
from ..heads.pictures import (
    ArrayLike,
    depth_to_rgb,
    kappa_to_rgb,
    make_grid,
    normal_to_rgb,
    probability_to_rgb,
    semseg_to_rgb,
    to_numpy,
)
from ..tasks import BINARY_TASKS, DEPTH, HUMAN_PART_CLASSES, HUMAN_PARTS, NORMAL, SEMSEG, TASK_SPECS

TILE = 120  # default display height of one picture, pixels
PAD = 2
EMPTY = 235  # grey level of a cell with nothing to show
TASK_NAMES = {task: spec.title for task, spec in TASK_SPECS.items()}


def _font(size: int = 12) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # scalable with FreeType (Pillow >= 10.1)
    except TypeError:
        return ImageFont.load_default()


def fit_tile(picture: np.ndarray, tile: int) -> np.ndarray:
    """Scale an HxWx3 uint8 picture to ``tile`` pixels high, keeping its aspect ratio.

    Enlarging uses nearest neighbours (small renders stay crisp, label colours stay exact); shrinking
    averages pixels.
    """
    height, width = picture.shape[:2]
    if height == tile:
        return picture
    new_width = max(1, round(width * tile / height))
    resample = Image.NEAREST if tile > height else Image.BOX
    return np.asarray(Image.fromarray(picture).resize((new_width, tile), resample))


def text_tile(text: str, width: int, font_size: int = 12) -> np.ndarray:
    """White HxWx3 tile ``width`` pixels wide holding ``text``, word-wrapped onto as many lines as needed."""
    font = _font(font_size)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = [""]
    for word in text.split():
        candidate = f"{lines[-1]} {word}".strip()
        if lines[-1] and measure.textlength(candidate, font=font) > width - 4:
            lines.append(word)
        else:
            lines[-1] = candidate
    line_height = font_size + 3
    strip = Image.new("RGB", (width, line_height * len(lines) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for i, line in enumerate(lines):
        draw.text((2, 2 + i * line_height), line, fill=(0, 0, 0), font=font)
    return np.asarray(strip)


def image_picture(image: ArrayLike) -> np.ndarray:
    """3xHxW image in [0, 1] -> HxWx3 uint8."""
    array = to_numpy(image).astype(np.float64)
    return np.clip(np.round(np.moveaxis(array, 0, -1) * 255), 0, 255).astype(np.uint8)


def label_picture(task: str, value: ArrayLike, num_classes: int | None = None,
                  depth_range: tuple[float, float] | None = None) -> np.ndarray:
    """One label or prediction as a picture.

    Args:
        task: normal (3xHxW unit, all-zero = invalid), depth (1xHxW or HxW metres, 0 = invalid), semseg or
            human_parts (HxW class ids, 255 = ignore), edge or saliency (1xHxW or HxW probability).
        num_classes: needed for semseg.
        depth_range: (vmin, vmax) metres, so pictures of one row share a colour scale; None = own range.
    """
    if task == NORMAL:
        return normal_to_rgb(value)
    if task == DEPTH:
        depth = to_numpy(value)
        depth = depth[0] if depth.ndim == 3 else depth
        vmin, vmax = depth_range if depth_range is not None else (None, None)
        return depth_to_rgb(depth, vmin, vmax)
    if task == SEMSEG:
        if num_classes is None:
            raise ValueError("label_picture: semseg pictures need num_classes")
        return semseg_to_rgb(to_numpy(value).astype(np.int64), num_classes)
    if task == HUMAN_PARTS:
        return semseg_to_rgb(to_numpy(value).astype(np.int64), len(HUMAN_PART_CLASSES))
    if task in BINARY_TASKS:
        prob = to_numpy(value)
        return probability_to_rgb(prob[0] if prob.ndim == 3 else prob)
    raise ValueError(f"label_picture: unknown task {task!r}")


def depth_range_of(depth: ArrayLike) -> tuple[float, float] | None:
    """(min, max) of the valid (finite, > 0) pixels of a depth map, or None when none is valid."""
    d = to_numpy(depth).astype(np.float64)
    valid = d[np.isfinite(d) & (d > 0)]
    return (float(valid.min()), float(valid.max())) if valid.size else None


def picture_grid(headers: Sequence[str], rows: Sequence[Sequence[np.ndarray | None]], tile: int = TILE,
                 pad: int = PAD) -> np.ndarray:
    """Pictures in rows under a header row; each picture is scaled to ``tile`` pixels high.

    A ``None`` cell is drawn as a grey ``tile`` x ``tile`` square. With square pictures the result is
    ``len(headers) * (tile + pad) + pad`` pixels wide.
    """
    fitted = [[fit_tile(p, tile) if p is not None else np.full((tile, tile, 3), EMPTY, np.uint8) for p in row]
              for row in rows]
    widths = [max((row[j].shape[1] for row in fitted if j < len(row)), default=tile) for j in range(len(headers))]
    header = [text_tile(name, width) for name, width in zip(headers, widths)]
    return make_grid([header, *fitted], pad=pad)


def comparison_grid(images: Sequence[ArrayLike], labels: dict[str, Sequence[dict[str, ArrayLike] | None]],
                    tasks: Sequence[str], num_classes: int | None = None, tile: int = TILE) -> np.ndarray:
    """Rows of image | group 1 per task | group 2 per task | ...

    Args:
        images: per row a 3xHxW image in [0, 1].
        labels: ordered {group name: per row {task: label} or None}; the first group (the ground truth)
            sets each row's depth colour range, so every depth picture of a row uses the same scale.
        tasks: the tasks to show, in column order.
    """
    groups = list(labels)
    headers = ["image"] + [f"{group}: {TASK_NAMES.get(task, task)}" for group in groups for task in tasks]
    rows = []
    for i, image in enumerate(images):
        depth_range = _row_depth_range(labels, groups, i)
        row: list[np.ndarray | None] = [image_picture(image)]
        for group in groups:
            values = labels[group][i]
            for task in tasks:
                value = None if values is None else values.get(task)
                row.append(None if value is None else label_picture(task, value, num_classes, depth_range))
        rows.append(row)
    return picture_grid(headers, rows, tile)


def _row_depth_range(labels: dict[str, Sequence[dict[str, ArrayLike] | None]], groups: list[str],
                     index: int) -> tuple[float, float] | None:
    for group in groups:  # the first group with valid depth (the ground truth) sets the scale
        values = labels[group][index]
        if values is not None and values.get(DEPTH) is not None:
            found = depth_range_of(values[DEPTH])
            if found is not None:
                return found
    return None


def created_grid(sources: Sequence[ArrayLike | None], samples: Sequence[dict[str, Any]], tasks: Sequence[str],
                 num_classes: int | None = None, tile: int = TILE) -> np.ndarray:
    """Rows of source image | created image | created label per task | confidence (when any sample has kappa).

    Args:
        sources: per row the real 3xHxW source image in [0, 1], or None when it cannot be found.
        samples: items of the created data set (``LayoutDataset``): ``image``, one entry per task, ``kappa``.
    """
    with_kappa = any("kappa" in s for s in samples)
    headers = ["source (real)", "created"] + [f"label: {TASK_NAMES.get(t, t)}" for t in tasks]
    headers += ["confidence (kappa)"] if with_kappa else []
    rows = []
    for source, sample in zip(sources, samples):
        row: list[np.ndarray | None] = [None if source is None else image_picture(source), image_picture(sample["image"])]
        row += [label_picture(t, sample[t], num_classes) if t in sample else None for t in tasks]
        if with_kappa:
            row.append(kappa_to_rgb(sample["kappa"][0]) if "kappa" in sample else None)
        rows.append(row)
    return picture_grid(headers, rows, tile)


def save_png(path: str | Path, picture: np.ndarray) -> Path:
    """Write an HxWx3 uint8 picture as PNG, atomically."""
    return atomic_write(path, lambda tmp: Image.fromarray(picture).save(tmp, format="PNG"))


@dataclass
class Panel:
    """One plot: named series of (steps, values), drawn as lines with markers where points are few."""

    title: str
    ylabel: str
    series: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)


def _smooth(values: np.ndarray) -> np.ndarray:
    window = max(1, len(values) // 50)
    if window == 1:
        return values
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def plot_panels(panels: Sequence[Panel], path: str | Path, boundary: float | None = None,
                boundary_label: str = "improve starts") -> Path:
    """Draw ``panels`` side by side (sharing nothing but the step axis's meaning) and save a PNG.

    Long series are drawn raw (faint) and smoothed with a moving average; series of a few points get
    markers. ``boundary``: a step where a vertical dashed line marks the change of stage.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display needed; report writing must work on headless machines
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels), 3.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for index, (name, (steps, values)) in enumerate(panel.series.items()):
            colour = f"C{index}"
            x, y = np.asarray(steps, float), np.asarray(values, float)
            if len(x) > 20:
                ax.plot(x, y, color=colour, alpha=0.25, linewidth=0.8)
                ax.plot(x, _smooth(y), color=colour, label=name, linewidth=1.5)
            else:
                ax.plot(x, y, color=colour, label=name, marker="o", markersize=4)
        if boundary is not None:
            ax.axvline(boundary, color="0.4", linestyle="--", linewidth=1, label=boundary_label)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
        if panel.series:
            ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
