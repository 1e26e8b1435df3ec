"""Each process trains on its own rows of every global batch; the rows look as they do on one process."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from diff2in1.backbones import load_backbone
from diff2in1.training.augment import Augmentation
from diff2in1.training.sources import BatchSource
from diff2in1.training.step import rows


class Images(Dataset):
    def __init__(self, num: int, size: int):
        self.images = torch.rand(num, 3, size, size, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        return {"image": self.images[index], "id": str(index)}


@pytest.fixture(scope="module")
def backbone(tiny_pixel_path):
    return load_backbone("pixel", tiny_pixel_path)


@pytest.mark.parametrize("storage", ["ram", "disk"])
def test_two_shards_are_the_halves_of_the_single_process_batch(backbone, tmp_path, storage):
    data, flips = Images(6, 16), Augmentation(flip=True)

    def source(process, start=0):
        return BatchSource(backbone, data, flips, seed=3, cache_dir=tmp_path / "features", start_step=start,
                           storage=storage, process=process)

    whole, first, second = source((0, 1)), source((0, 2)), source((1, 2))
    for _ in range(4):  # crosses an epoch boundary: 6 images, 4 per step
        batch, a, b = whole.next(4), first.next(4), second.next(4)
        assert torch.equal(torch.cat([a["index"], b["index"]]), batch["index"])
        assert torch.equal(torch.cat([a["image"], b["image"]]), batch["image"])  # same flips
        both = [torch.cat(pair) for pair in zip(first.features(a), second.features(b))]
        for x, y in zip(both, whole.features(batch)):
            assert torch.allclose(x, y, atol=1e-3)
    resumed = source((1, 2), start=3)
    assert torch.equal(resumed.next(4)["image"], b["image"])


def test_a_global_batch_that_does_not_divide_among_processes_is_refused():
    assert rows(8, 1, 2) == slice(4, 8)
    with pytest.raises(ValueError, match="--batch-size 3 does not divide among 2 processes"):
        rows(3, 0, 2)
