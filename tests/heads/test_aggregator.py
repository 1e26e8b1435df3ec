from __future__ import annotations

import pytest
import torch
from head_test_utils import random_features

from diff2in1.heads import FeatureAggregator


@pytest.mark.parametrize(
    ("channels", "strides"),
    [([16, 8, 8, 4], [8, 4, 2, 1]), ([32, 32, 16, 8], [32, 16, 8, 8])],
)
@pytest.mark.parametrize("image_size", [(64, 64), (64, 96), (80, 48)])
def test_coarse_map_at_the_fuse_stride_and_detail_at_the_finest(channels, strides, image_size):
    agg = FeatureAggregator(channels, strides, out_channels=8, fuse_stride=4, detail_channels=6)
    features = random_features(channels, strides, image_size)
    coarse, detail = agg(features)
    at = {s: features[strides.index(s)].shape[-2:] for s in strides}
    fused_strides = [s for s in strides if s >= 4]
    assert agg.out_stride == min(fused_strides)
    assert coarse.shape == (2, 8, *at[min(fused_strides)])
    if min(strides) < 4:
        assert agg.detail_stride == min(strides)
        assert detail is not None and detail.shape == (2, 6, *at[min(strides)])
        assert torch.isfinite(detail).all()
    else:  # SD-like strides: everything is fused, no detail path
        assert detail is None and agg.detail_strides == []
    assert torch.isfinite(coarse).all()


def test_fuse_stride_one_fuses_everything_at_full_resolution():
    agg = FeatureAggregator([16, 8, 8, 4], [8, 4, 2, 1], out_channels=8, fuse_stride=1)
    coarse, detail = agg(random_features([16, 8, 8, 4], [8, 4, 2, 1], (32, 32)))
    assert agg.strides == [8, 4, 2, 1] and detail is None
    assert coarse.shape == (2, 8, 32, 32)


def test_with_every_stride_finer_than_fuse_stride_the_coarsest_is_fused():
    agg = FeatureAggregator([8, 4], [2, 1], out_channels=8, fuse_stride=4)
    assert agg.strides == [2] and agg.detail_strides == [1]


def test_same_stride_features_share_one_projection():
    agg = FeatureAggregator([32, 32, 16, 8], [32, 16, 8, 8], out_channels=8)
    assert agg.strides == [32, 16, 8]
    assert len(agg.projections) == 3
    # the stride-8 group is the concatenation of the 16- and 8-channel maps
    assert agg.projections[2][0].in_channels == 24


def test_every_feature_map_influences_the_output():
    channels, strides = [8, 8, 4, 4], [32, 16, 8, 8]
    agg = FeatureAggregator(channels, strides, out_channels=8)
    features = [f.requires_grad_() for f in random_features(channels, strides, (64, 64))]
    agg(features).coarse.square().sum().backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in features)


def test_wrong_channels_raise_an_actionable_error():
    agg = FeatureAggregator([16, 8], [2, 1], out_channels=8)
    with pytest.raises(ValueError, match=r"\[16, 8\]"):
        agg(random_features([16, 4], [2, 1], (16, 16)))


def test_mismatched_config_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        FeatureAggregator([16, 8], [2], out_channels=8)


def test_fine_feature_maps_reach_the_output_through_the_detail_path():
    channels, strides = [8, 8, 4, 4], [8, 4, 2, 1]
    agg = FeatureAggregator(channels, strides, out_channels=8, fuse_stride=4, detail_channels=4)
    features = [f.requires_grad_() for f in random_features(channels, strides, (32, 32))]
    coarse, detail = agg(features)
    (coarse.square().sum() + detail.square().sum()).backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in features)
