"""Resizing samples for training and mapping predictions back to the original resolution."""

from __future__ import annotations

import torch

from diff2in1.data.readers.resize import (
    center_crop,
    pad_to_multiple,
    predict_resized,
    resize_prediction,
    resize_sample,
    sliding_window,
    unpad,
)


def sample(h=30, w=40):
    g = torch.Generator().manual_seed(0)
    normal = torch.nn.functional.normalize(torch.randn(3, h, w, generator=g), dim=0)
    semseg = torch.randint(0, 5, (h, w), generator=g)
    semseg[0, 0] = 255
    depth = torch.rand(1, h, w, generator=g) + 1
    depth[0, :, :3] = 0
    return {
        "id": "x", "caption": "c", "image": torch.rand(3, h, w, generator=g),
        "depth": depth, "normal": normal, "semseg": semseg,
        "mask": {"depth": depth[0] > 0, "normal": torch.ones(h, w, dtype=torch.bool), "semseg": semseg != 255},
    }


def test_resize_sample_covers_and_crops_without_mixing_labels():
    item = sample()
    out = resize_sample(item, 16)
    assert out["image"].shape == (3, 16, 16) and out["depth"].shape == (1, 16, 16)
    assert out["semseg"].shape == (16, 16) and out["semseg"].dtype == torch.int64
    assert out["mask"]["depth"].shape == (16, 16) and out["mask"]["depth"].dtype == torch.bool
    assert set(out["semseg"].unique().tolist()) <= set(item["semseg"].unique().tolist())
    assert set(out["depth"].unique().tolist()) <= set(item["depth"].unique().tolist())  # nearest: no blends
    assert torch.allclose(out["normal"].norm(dim=0), torch.ones(16, 16), atol=1e-5)
    assert out["id"] == "x" and out["caption"] == "c"
    stretched = resize_sample(item, (10, 20), crop=False)
    assert stretched["image"].shape == (3, 10, 20)
    cropped = center_crop(item, (10, 20))
    assert torch.equal(cropped["semseg"], item["semseg"][10:20, 10:30])


def test_resize_prediction_per_task():
    logits = torch.randn(2, 5, 8, 8)
    assert resize_prediction(logits, (30, 40), "semseg").shape == (2, 5, 30, 40)
    labels = torch.randint(0, 5, (2, 8, 8))
    up = resize_prediction(labels, (16, 16), "semseg")
    assert up.dtype == labels.dtype and torch.equal(up[:, ::2, ::2], labels)
    normal = torch.nn.functional.normalize(torch.randn(1, 3, 8, 8), dim=1)
    assert torch.allclose(resize_prediction(normal, (13, 17), "normal").norm(dim=1), torch.ones(1, 13, 17), atol=1e-5)
    depth = torch.full((1, 1, 8, 8), 2.0)
    assert torch.allclose(resize_prediction(depth, (5, 9), "depth"), torch.full((1, 1, 5, 9), 2.0))


def test_pad_unpad_and_sliding_window_return_original_resolution():
    image = torch.rand(1, 3, 30, 41)
    padded, padding = pad_to_multiple(image, 8)
    assert padded.shape[-2:] == (32, 48) and torch.equal(unpad(padded, padding), image)

    def half_res_depth(x):  # a network predicting at 1/2 resolution
        return x[:, :1, ::2, ::2] * 3

    out = sliding_window(image, 16, 12, half_res_depth, "depth")
    assert out.shape == (1, 1, 30, 41)
    coarse = sliding_window(image, 16, 12, lambda x: x[:, :1], "depth")
    assert torch.allclose(coarse, image[:, :1], atol=1e-6)  # identity network: exact reconstruction
    small = sliding_window(image[..., :10, :10], 16, 8, lambda x: x, "normal")
    assert small.shape == (1, 3, 10, 10) and torch.allclose(small.norm(dim=1), torch.ones(1, 10, 10), atol=1e-5)
    assert predict_resized(image, 16, lambda x: x[:, :1], "depth").shape == (1, 1, 30, 41)
