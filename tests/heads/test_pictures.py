from __future__ import annotations

import numpy as np
import pytest
import torch

from diff2in1.heads.pictures import (
    depth_to_rgb,
    kappa_to_rgb,
    make_grid,
    normal_to_rgb,
    semseg_palette,
    semseg_to_rgb,
)


def test_normal_to_rgb_values_and_invalid_black():
    n = torch.zeros(3, 2, 2)
    n[:, 0, 0] = torch.tensor([1.0, 0.0, 0.0])
    n[:, 0, 1] = torch.tensor([0.0, -1.0, 0.0])
    n[:, 1, 0] = torch.tensor([0.0, 0.0, 1.0])
    rgb = normal_to_rgb(n)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 128, 128]
    assert rgb[0, 1].tolist() == [128, 0, 128]
    assert rgb[1, 1].tolist() == [0, 0, 0]
    batched = normal_to_rgb(n[None].repeat(3, 1, 1, 1).numpy())
    assert batched.shape == (3, 2, 2, 3) and np.array_equal(batched[2], rgb)


def test_depth_to_rgb_shapes_range_and_invalid():
    d = torch.linspace(1, 4, 16).view(1, 1, 4, 4).repeat(2, 1, 1, 1)
    d[0, 0, 0, 0] = 0
    rgb = depth_to_rgb(d)
    assert rgb.shape == (2, 4, 4, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0].tolist() == [0, 0, 0]
    assert not np.array_equal(rgb[1, 0, 1], rgb[1, 3, 3])
    assert depth_to_rgb(d[0, 0]).shape == (4, 4, 3)
    # values beyond vmax clip to vmax's colour
    clipped = depth_to_rgb(d[1, 0], vmin=1.0, vmax=2.0)
    assert np.array_equal(clipped[3, 2], clipped[3, 3])
    masked = depth_to_rgb(d[1, 0], mask=d[1, 0] < 3)
    assert masked[3, 3].tolist() == [0, 0, 0] and masked[0, 1].any()


def test_kappa_to_rgb_is_a_log_heat_map():
    k = torch.tensor([[0.01, 0.1], [1.0, 100.0]])
    rgb = kappa_to_rgb(k)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert len({tuple(p) for p in rgb.reshape(-1, 3).tolist()}) == 4
    assert kappa_to_rgb(k[None, None]).shape == (1, 2, 2, 3)


def test_palette_is_deterministic_distinct_and_never_black():
    p = semseg_palette(150)
    assert p.shape == (150, 3) and p.dtype == np.uint8
    assert p[:3].tolist() == [[128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert len({tuple(c) for c in p.tolist()}) == 150
    assert p.any(axis=1).all()
    assert np.array_equal(semseg_palette(150)[:20], semseg_palette(20))


def test_semseg_to_rgb_ignore_is_black_and_bad_labels_raise():
    labels = torch.tensor([[[0, 1], [2, 255]]])
    rgb = semseg_to_rgb(labels, 3)
    assert rgb.shape == (1, 2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[0, 1, 1].tolist() == [0, 0, 0]
    assert np.array_equal(rgb[0, 0, 1], semseg_palette(3)[1])
    assert semseg_to_rgb(labels[0].numpy(), 3).shape == (2, 2, 3)
    with pytest.raises(ValueError, match="num_classes"):
        semseg_to_rgb(torch.tensor([[5]]), 3)


def test_make_grid_places_pictures_with_padding():
    a = np.full((4, 5, 3), 10, np.uint8)
    b = np.full((4, 5, 3), 20, np.uint8)
    c = np.full((6, 3), 30, np.uint8)
    grid = make_grid([[a, b], [c]], pad=2)
    assert grid.shape == (4 + 6 + 3 * 2, 5 + 5 + 3 * 2, 3) and grid.dtype == np.uint8
    assert (grid[2:6, 2:7] == 10).all() and (grid[2:6, 9:14] == 20).all()
    assert (grid[8:14, 2:5] == 30).all()
    assert (grid[0] == 255).all() and (grid[8:14, 9:14] == 255).all()
