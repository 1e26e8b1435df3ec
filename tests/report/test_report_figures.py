"""The report's picture grids, curves and metric-table helpers, on arrays made up in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diff2in1.heads.pictures import depth_to_rgb
from diff2in1.report.figures import Panel, comparison_grid, fit_tile, picture_grid, plot_panels
from diff2in1.report.table import change_class, metrics_table_html, spread_class


def test_report_grid_is_columns_times_tile_wide_with_grey_empty_cells() -> None:
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    grid = picture_grid(["a", "b", "c"], [[red, None, red], [red, red]], tile=16, pad=2)
    assert grid.shape[1] == 3 * (16 + 2) + 2
    bottom_left = grid[-18:-2, 2:18]
    assert (bottom_left == [255, 0, 0]).all()  # 8 px enlarged to 16 px, colours kept
    empty = grid[-36:-20, 20:36]
    assert (empty == empty[0, 0]).all() and 200 < empty[0, 0, 0] < 255


def test_report_fit_tile_keeps_the_aspect_ratio() -> None:
    assert fit_tile(np.zeros((48, 64, 3), np.uint8), 24).shape == (24, 32, 3)


def test_report_depth_of_a_row_uses_the_ground_truth_range() -> None:
    truth = torch.linspace(1, 2, 16).reshape(1, 4, 4)
    pred = truth * 2  # at or beyond the truth's far end everywhere
    grid = comparison_grid([torch.zeros(3, 4, 4)], {"truth": [{"depth": truth}], "model": [{"depth": pred}]},
                           ["depth"], tile=4)
    model_cell = grid[-6:-2, 14:18]  # padding 2 around 4 px cells; the third column
    far = depth_to_rgb(truth[0], mask=truth[0] > 0)[-1, -1]
    assert (model_cell == far).all()  # clipped to the truth's far colour, not stretched over its own range
    assert not (depth_to_rgb(pred[0]) == model_cell).all()


def test_report_plot_panels_writes_a_png(tmp_path: Path) -> None:
    panel = Panel("loss", "loss", {"warm-up": ([1, 2, 3], [3.0, 2.0, 1.5]), "improve": (list(range(4, 40)), [1.0] * 36)})
    path = plot_panels([panel, Panel("empty", "y")], tmp_path / "curves.png", boundary=3)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > image.size[1]


@pytest.mark.parametrize("task, metric, before, after, expected", [
    ("normal", "mean", 20.0, 19.0, "better"), ("normal", "a30", 80.0, 79.0, "worse"),
    ("depth", "abs_rel", 0.10, 0.12, "worse"), ("depth", "d1", 0.80, 0.85, "better"),
    ("semseg", "miou", 0.40, 0.40, "same"), ("semseg", "unknown", 1.0, 2.0, "same"), ("normal", "mean", 1.0, None, "same"),
])
def test_report_change_colour_follows_the_metric_direction(task, metric, before, after, expected) -> None:
    assert change_class(task, metric, before, after) == expected


def test_report_table_without_improve_shows_dashes() -> None:
    html = metrics_table_html({"warmup": {"normal": {"mean": 12.345, "a30": 88.0}}, "theta_c": {}, "theta_e": {}})
    assert "12.35" in html and "88.00" in html and html.count("—") == 2 * 5  # control, θC, θE, Δ, spread


@pytest.mark.parametrize("before, after, spread, expected", [
    (12.0, 11.5, 0.1, "better"), (12.0, 11.95, 0.1, "same"), (12.0, 12.3, 0.1, "worse"), (12.0, 11.0, None, "same")])
def test_report_colours_a_change_against_the_control_only_beyond_the_seed_spread(before, after, spread, expected):
    assert spread_class("normal", "mean", before, after, spread) == expected


def test_report_table_colours_the_change_against_the_control():
    metrics = {"warmup": {"normal": {"mean": 13.0}}, "control": {"normal": {"mean": 12.0}},
               "theta_c": {"normal": {"mean": 11.0}}, "theta_e": {"normal": {"mean": 11.1}}}
    html = metrics_table_html(metrics, {"normal": {"mean": 0.2}})
    assert "<td class='num better'>-1.000</td>" in html and "± 0.200" in html


def test_report_table_leaves_a_change_within_the_seed_spread_uncoloured_as_a_tie():
    metrics = {"control": {"normal": {"mean": 11.0010}}, "theta_c": {"normal": {"mean": 11.0009}}}
    html = metrics_table_html(metrics, {"normal": {"mean": 0.0065}})
    assert "num better" not in html and "num worse" not in html
    assert "<td class='num same'>0.000 (tie)</td>" in html


def test_report_table_colours_a_change_beyond_the_seed_spread_in_either_direction():
    metrics = {"control": {"normal": {"mean": 11.0}, "semseg": {"miou": 0.70}},
               "theta_c": {"normal": {"mean": 10.9}, "semseg": {"miou": 0.68}}}
    html = metrics_table_html(metrics, {"normal": {"mean": 0.02}, "semseg": {"miou": 0.004}})
    assert "<td class='num better'>-0.100</td>" in html and "<td class='num worse'>-0.0200</td>" in html


@pytest.mark.parametrize("trained, kind, says, not_says", [
    (None, "stable_diffusion", "UNet, VAE and text encoder are frozen throughout", "LoRA"),
    ({"mode": "lora", "rank": 8}, "stable_diffusion", "Rank-8 LoRA adapters", "frozen throughout"),
    ({"mode": "lora", "rank": 4}, "pixel", "the UNet's own weights stay frozen", "VAE"),
    ({"mode": "full"}, "pixel", "Every weight of the diffusion UNet trains", "frozen throughout"),
])
def test_the_report_says_what_of_the_backbone_trained(tmp_path, trained, kind, says, not_says):
    from diff2in1.report.html import _trained_sentence
    from diff2in1.report.runfolder import RunFolder

    run = RunFolder(tmp_path)
    run.checkpoint_info = {"backbone": {"kind": kind, **({"trained": trained} if trained else {})}}
    run.improve_config = {"batch_size": 8, "pseudo_batch_size": 8}
    text = _trained_sentence(run)
    assert says in text and not_says not in text
    assert ("with its trained UNet weights" in text) == bool(trained)
