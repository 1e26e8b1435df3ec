"""Flips and crops move every map with its image; flips negate the x component of normals."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from diff2in1.training.augment import Augmentation, augment_batch

SIZE, BLOCK = 32, 8


def _random_batch(batch: int = 8) -> dict:
    generator = torch.Generator().manual_seed(0)
    normal = F.normalize(torch.randn(batch, 3, SIZE, SIZE, generator=generator), dim=1)
    return {
        "image": torch.rand(batch, 3, SIZE, SIZE, generator=generator),
        "normal": normal,
        "depth": torch.rand(batch, 1, SIZE, SIZE, generator=generator) * 10,
        "semseg": torch.randint(0, 6, (batch, SIZE, SIZE), generator=generator),
        "kappa": torch.rand(batch, 1, SIZE, SIZE, generator=generator),
        "mask": {"normal": torch.rand(batch, SIZE, SIZE, generator=generator) > 0.3,
                 "depth": torch.rand(batch, SIZE, SIZE, generator=generator) > 0.3},
        "caption": ["a room"] * batch,
    }


def _clone(batch: dict) -> dict:
    return {k: ({t: m.clone() for t, m in v.items()} if isinstance(v, dict) else
                v.clone() if torch.is_tensor(v) else list(v)) for k, v in batch.items()}


def test_flip_mirrors_every_map_and_negates_normal_x() -> None:
    before = _random_batch()
    after = augment_batch(_clone(before), Augmentation(flip=True), torch.Generator().manual_seed(1))
    flipped = [bool(torch.equal(after["image"][i], before["image"][i].flip(-1))) for i in range(8)]
    kept = [bool(torch.equal(after["image"][i], before["image"][i])) for i in range(8)]
    assert any(flipped) and any(kept) and all(f != k for f, k in zip(flipped, kept))
    for i, was_flipped in enumerate(flipped):
        def mirror(x: torch.Tensor) -> torch.Tensor:
            return x.flip(-1) if was_flipped else x  # noqa: B023 (used inside this iteration only)

        for key in ("depth", "semseg", "kappa"):
            assert torch.equal(after[key][i], mirror(before[key][i])), key
        for task in ("normal", "depth"):
            assert torch.equal(after["mask"][task][i], mirror(before["mask"][task][i])), task
        sign = -1.0 if was_flipped else 1.0
        assert torch.equal(after["normal"][i, 0], sign * mirror(before["normal"][i, 0]))
        assert torch.equal(after["normal"][i, 1:], mirror(before["normal"][i, 1:]))


def _coordinate_batch(batch: int = 8) -> dict:
    """Labels are functions of the image: the image encodes each pixel's column and row."""
    v, u = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32), torch.arange(SIZE, dtype=torch.float32),
                          indexing="ij")
    image = torch.stack([u / (SIZE - 1), v / (SIZE - 1), torch.full_like(u, 0.5)])
    blocks = (u // BLOCK + (SIZE // BLOCK) * (v // BLOCK)).long()
    return {
        "image": image.expand(batch, -1, -1, -1).clone(),
        "depth": (1 + u + 2 * v).expand(batch, 1, -1, -1).clone(),
        "semseg": blocks.expand(batch, -1, -1).clone(),
        "normal": torch.tensor([0.6, 0.0, -0.8]).view(1, 3, 1, 1).expand(batch, 3, SIZE, SIZE).clone(),
        "mask": {"depth": (u < SIZE // 2).expand(batch, -1, -1).clone()},
    }


def test_crop_keeps_labels_aligned_with_the_image() -> None:
    batch = augment_batch(_coordinate_batch(), Augmentation(flip=True, crop_min_scale=0.5),
                          torch.Generator().manual_seed(2))
    u = batch["image"][:, 0] * (SIZE - 1)  # where each output pixel was sampled from (bilinear: exact)
    v = batch["image"][:, 1] * (SIZE - 1)
    assert (u.amax(dim=(1, 2)) - u.amin(dim=(1, 2)) < SIZE - 2).any(), "no sample was cropped"
    # labels are sampled by nearest neighbour: at most half a source pixel away along each axis
    assert ((batch["depth"][:, 0] - (1 + u + 2 * v)).abs() <= 1.5 + 1e-4).all()
    # away from block edges by more than the half pixel nearest neighbour may move
    def clear_of_edges(x: torch.Tensor) -> torch.Tensor:
        return (x % BLOCK - (BLOCK - 1) / 2).abs() < BLOCK / 2 - 1

    inside = clear_of_edges(u) & clear_of_edges(v)
    expected = (u.round() // BLOCK + (SIZE // BLOCK) * (v.round() // BLOCK)).long()
    assert torch.equal(batch["semseg"][inside], expected[inside])
    away = (u - (SIZE // 2 - 0.5)).abs() > 1
    assert torch.equal(batch["mask"]["depth"][away], (u < SIZE // 2)[away])
    # nearest neighbour never blends labels: integer classes, unit normals, boolean masks
    assert batch["semseg"].dtype == torch.long and batch["mask"]["depth"].dtype == torch.bool
    assert torch.allclose(batch["normal"].norm(dim=1), torch.ones(1))
    flipped = batch["normal"][:, 0, 0, 0] < 0
    assert flipped.any() and (~flipped).any()
    assert torch.equal(flipped, u[:, 0, -1] < u[:, 0, 0])  # negated exactly where the image was mirrored
    assert torch.allclose(batch["normal"][:, 0].abs(), torch.tensor(0.6))
