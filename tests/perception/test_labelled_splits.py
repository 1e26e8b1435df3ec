from __future__ import annotations

import pytest
import torch

from diff2in1.perception.splits import labelled_subsets, unlabelled_subset


class Numbers(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 50

    def __getitem__(self, index: int) -> int:
        return index


def test_unlabelled_split_is_disjoint_from_every_smaller_labelled_set():
    data = Numbers()
    for labelled in (5, 20):
        train, val = labelled_subsets(data, labelled, 0.2, seed=3)
        held_out = unlabelled_subset(data, labelled, seed=3, limit=10)
        assert len(held_out) == 10
        used = set(train.indices) | set(val.indices)
        assert not used & set(held_out.indices)
    # a smaller labelled set's held-out images may be labelled in a larger one, never the reverse
    assert set(labelled_subsets(data, 5, 0.0, 3)[0].indices) <= set(labelled_subsets(data, 20, 0.0, 3)[0].indices)


@pytest.mark.parametrize("labelled", [0, 50])
def test_unlabelled_split_needs_images_left_over(labelled):
    with pytest.raises(ValueError, match="num-labelled"):
        unlabelled_subset(Numbers(), labelled, seed=0)
