"""Features of views in the engine's cache: per view, in RAM or in files that processes and runs share."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def pool(tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory):
    from diff2in1.data.rooms import RoomsConfig, generate_rooms
    from diff2in1.perception.splits import open_backbone, open_split
    from diff2in1.training.samples import ReadSamples

    root = tmp_path_factory.mktemp("views")
    rooms = generate_rooms(RoomsConfig(out=str(root / "rooms"), num=6, size=16), progress=False)
    backbone = open_backbone(str(tiny_pixel_path))
    return root, backbone, ReadSamples(open_split("rooms", str(rooms), "train", None, backbone.sample_size))


def test_a_folder_is_shared_by_stores_of_the_same_set_and_serves_what_ram_computes(pool):
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.feature_cache import FeatureCache, FeatureEntries

    root, backbone, samples = pool
    rows, views = torch.tensor([3, 0, 3, 1]), torch.tensor([2, 0, 2, 1])
    in_ram = FeatureCache(backbone, samples, ViewBank(3)).get(rows, views)
    first = FeatureCache(backbone, samples, ViewBank(3), FeatureEntries(root / "features"))
    first.get(rows, views)
    second = FeatureCache(backbone, samples, ViewBank(3), FeatureEntries(root / "features"))
    from_disk = second.get(rows, views)
    assert first.computed == 3 and second.computed == 0  # (3, 2) asked twice, computed once
    for ram, disk in zip(in_ram, from_disk):
        assert torch.equal(ram, disk)


def test_another_bank_does_not_read_the_perturbed_views_of_this_one(pool):
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.feature_cache import FeatureCache, FeatureEntries

    root, backbone, samples = pool
    FeatureCache(backbone, samples, ViewBank(3), FeatureEntries(root / "banks")).fill([0, 2])
    other = FeatureCache(backbone, samples, ViewBank(3, jitter=0.5), FeatureEntries(root / "banks"))
    other.fill([0, 2])
    assert other.computed == len(other.keys)  # view 0 is the image itself, shared; view 2 is computed anew


def test_an_uncached_store_computes_every_request(pool):
    from diff2in1.self_improving.views import ViewBank
    from diff2in1.training.feature_cache import FeatureCache

    _, backbone, samples = pool
    store = FeatureCache(backbone, samples, ViewBank(2), store=False)
    store.get(torch.tensor([0, 1]), torch.tensor([0, 0]))
    store.get(torch.tensor([0, 1]), torch.tensor([0, 0]))
    assert store.computed == 4 and not store.entries.memory
