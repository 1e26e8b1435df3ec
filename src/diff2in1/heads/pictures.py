"""Turn predictions and labels into uint8 RGB pictures (HxWx3 or BxHxWx3) and arrange them in grids.

Every function takes a torch tensor or a numpy array, batched or single, and returns numpy uint8 with
the batch dimension kept if the input had one. Pure functions: no state, no files.
"""

from __future__ import annotations

from functools import lru_cache

import matplotlib
import numpy as np
import torch

from ..tasks import IGNORE_INDEX

ArrayLike = torch.Tensor | np.ndarray


def to_numpy(x: ArrayLike) -> np.ndarray:
    """Tensor (any device, any dtype, with or without grad) or array -> numpy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.is_floating_point() else x).numpy()
    return np.asarray(x)


def _scalar_maps(x: ArrayLike, name: str) -> tuple[np.ndarray, bool]:
    """Bx1xHxW, BxHxW or HxW -> (BxHxW float array, whether the input was batched)."""
    a = to_numpy(x).astype(np.float64)
    if a.ndim == 4 and a.shape[1] == 1:
        return a[:, 0], True
    if a.ndim == 3:
        return a, True
    if a.ndim == 2:
        return a[None], False
    raise ValueError(f"{name}: expected Bx1xHxW, BxHxW or HxW, found shape {a.shape}")


def _unbatch(rgb: np.ndarray, batched: bool) -> np.ndarray:
    return rgb if batched else rgb[0]


def _colorize(
    values: np.ndarray, valid: np.ndarray, vmin: float | None, vmax: float | None, cmap: str
) -> np.ndarray:
    """BxHxW values -> BxHxWx3 uint8 through a matplotlib colormap; range per image unless given."""
    colormap = matplotlib.colormaps[cmap]
    out = np.zeros((*values.shape, 3), dtype=np.uint8)
    for b in range(values.shape[0]):
        v, ok = values[b], valid[b]
        if not ok.any():
            continue
        lo = float(v[ok].min()) if vmin is None else float(vmin)
        hi = float(v[ok].max()) if vmax is None else float(vmax)
        t = np.clip((v - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
        rgb = (colormap(np.where(ok, t, 0.0))[..., :3] * 255.0).round().astype(np.uint8)
        out[b] = np.where(ok[..., None], rgb, 0)
    return out


def normal_to_rgb(normal: ArrayLike) -> np.ndarray:
    """Surface normals -> RGB with rgb = (n + 1) / 2 * 255 (the NYUv2 convention of Bae et al.).

    Args:
        normal: Bx3xHxW or 3xHxW, components in [-1, 1]; all-zero (or non-finite) pixels are invalid.

    Returns:
        BxHxWx3 or HxWx3 uint8; invalid pixels are black.
    """
    n = to_numpy(normal).astype(np.float64)
    if n.ndim not in (3, 4) or n.shape[-3] != 3:
        raise ValueError(f"normal_to_rgb: expected Bx3xHxW or 3xHxW, found shape {n.shape}")
    batched = n.ndim == 4
    n = np.moveaxis(n if batched else n[None], 1, -1)
    finite = np.isfinite(n).all(axis=-1)
    valid = finite & (np.abs(np.where(np.isfinite(n), n, 0.0)).sum(axis=-1) > 0)
    rgb = np.clip(np.round((np.nan_to_num(n) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    rgb[~valid] = 0
    return _unbatch(rgb, batched)


def depth_to_rgb(
    depth: ArrayLike,
    vmin: float | None = None,
    vmax: float | None = None,
    mask: ArrayLike | None = None,
    cmap: str = "magma_r",
) -> np.ndarray:
    """Depth map -> colour-mapped RGB (near = bright with the default 'magma_r').

    Args:
        depth: Bx1xHxW, BxHxW or HxW, metres (a 3-D input is read as a batch).
        vmin, vmax: colour range in metres; by default the min / max of each image's valid pixels.
        mask: same layout as ``depth``, True = valid; by default finite pixels > 0 (0 = invalid).
        cmap: matplotlib colormap name.

    Returns:
        BxHxWx3 or HxWx3 uint8; invalid pixels are black.
    """
    d, batched = _scalar_maps(depth, "depth_to_rgb")
    valid = np.isfinite(d) & (d > 0)
    if mask is not None:
        valid &= _scalar_maps(mask, "depth_to_rgb mask")[0].astype(bool)
    return _unbatch(_colorize(np.nan_to_num(d), valid, vmin, vmax, cmap), batched)


def kappa_to_rgb(
    kappa: ArrayLike, vmin: float | None = None, vmax: float | None = None, cmap: str = "inferno"
) -> np.ndarray:
    """vMF concentration (confidence) -> heat map on a log10 scale; bright = confident.

    Args:
        kappa: Bx1xHxW, BxHxW or HxW, > 0 (non-positive or non-finite pixels are drawn black).
        vmin, vmax: colour range in kappa units (not log); by default each image's min / max.
        cmap: matplotlib colormap name.

    Returns:
        BxHxWx3 or HxWx3 uint8.
    """
    k, batched = _scalar_maps(kappa, "kappa_to_rgb")
    valid = np.isfinite(k) & (k > 0)
    log_k = np.log10(np.where(valid, k, 1.0))
    lo = None if vmin is None else float(np.log10(vmin))
    hi = None if vmax is None else float(np.log10(vmax))
    return _unbatch(_colorize(log_k, valid, lo, hi, cmap), batched)


def probability_to_rgb(prob: ArrayLike) -> np.ndarray:
    """Per-pixel probability (boundaries, saliency) -> grey RGB, white = 1, black = 0.

    Args:
        prob: Bx1xHxW, BxHxW or HxW in [0, 1] (values outside are clipped, non-finite ones drawn black).

    Returns:
        BxHxWx3 or HxWx3 uint8.
    """
    p, batched = _scalar_maps(prob, "probability_to_rgb")
    grey = np.round(np.clip(np.nan_to_num(p, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0) * 255).astype(np.uint8)
    return _unbatch(np.repeat(grey[..., None], 3, axis=-1), batched)


@lru_cache(maxsize=8)
def semseg_palette(num_classes: int) -> np.ndarray:
    """num_classes x 3 uint8 colours: the PASCAL VOC bit-interleaved palette shifted by one.

    The shift keeps every class off black, which is reserved for the ignore label 255. Deterministic and
    distinct for up to 255 classes.
    """
    if not 1 <= num_classes <= 255:
        raise ValueError(
            f"semseg_palette: num_classes must be in [1, 255] (255 is the ignore label), got {num_classes}"
        )
    palette = np.zeros((num_classes, 3), dtype=np.uint8)
    for c in range(num_classes):
        label, rgb = c + 1, [0, 0, 0]
        for bit in range(8):
            for channel in range(3):
                rgb[channel] |= ((label >> channel) & 1) << (7 - bit)
            label >>= 3
        palette[c] = rgb
    palette.flags.writeable = False
    return palette


def semseg_to_rgb(labels: ArrayLike, num_classes: int) -> np.ndarray:
    """Class indices -> RGB with :func:`semseg_palette`; the ignore label 255 is black.

    Args:
        labels: BxHxW or HxW integers in [0, num_classes) or 255.
        num_classes: number of classes of the data set.

    Returns:
        BxHxWx3 or HxWx3 uint8.
    """
    lab = to_numpy(labels)
    if lab.ndim not in (2, 3):
        raise ValueError(f"semseg_to_rgb: expected BxHxW or HxW labels, found shape {lab.shape}")
    lab = lab.astype(np.int64)
    ignore = lab == IGNORE_INDEX
    bad = ~ignore & ((lab < 0) | (lab >= num_classes))
    if bad.any():
        raise ValueError(
            f"semseg_to_rgb: labels {sorted(np.unique(lab[bad]).tolist())[:10]} are outside [0, {num_classes}) "
            f"and are not the ignore label {IGNORE_INDEX}; check num_classes"
        )
    rgb = semseg_palette(num_classes)[np.where(ignore, 0, lab)]
    rgb[ignore] = 0
    return rgb


def make_grid(rows: list[list[np.ndarray]], pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile pictures into one image: ``rows[i][j]`` goes to row i, column j.

    Args:
        rows: lists of HxWx3 (or HxW grey) uint8 pictures; sizes may differ, each cell is as tall as its
            row's tallest picture and as wide as its column's widest, pictures sit at the cell's top left.
            Rows may have different lengths (missing cells stay ``pad_value``).
        pad: pixels between cells and around the border.
        pad_value: grey level of the padding, 0-255.

    Returns:
        H' x W' x 3 uint8.
    """
    cells = [[_as_rgb(p) for p in row] for row in rows]
    if not any(cells):
        raise ValueError("make_grid: no picture given")
    n_cols = max(len(row) for row in cells)
    heights = [max((p.shape[0] for p in row), default=0) for row in cells]
    widths = [max((row[j].shape[1] for row in cells if j < len(row)), default=0) for j in range(n_cols)]
    grid = np.full(
        (sum(heights) + pad * (len(cells) + 1), sum(widths) + pad * (n_cols + 1), 3), pad_value, np.uint8
    )
    y = pad
    for row, h in zip(cells, heights):
        x = pad
        for j, picture in enumerate(row):
            grid[y : y + picture.shape[0], x : x + picture.shape[1]] = picture
            x += widths[j] + pad
        y += h + pad
    return grid


def _as_rgb(picture: np.ndarray) -> np.ndarray:
    p = np.asarray(picture)
    if p.ndim == 2:
        p = np.repeat(p[..., None], 3, axis=-1)
    if p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"make_grid: each picture must be HxWx3 or HxW, found shape {p.shape}")
    return p.astype(np.uint8, copy=False)
