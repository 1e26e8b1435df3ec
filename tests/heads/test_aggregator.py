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
def test_output_is_at_the_finest_stride(channels, strides, image_size):
    agg = FeatureAggregator(channels, strides, out_channels=8)
    features = random_features(channels, strides, image_size)
    out = agg(features)
    finest = features[strides.index(min(strides))]
    assert agg.out_stride == min(strides)
    assert out.shape == (2, 8, *finest.shape[-2:])
    assert torch.isfinite(out).all()


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
    agg(features).square().sum().backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in features)


def test_wrong_channels_raise_an_actionable_error():
    agg = FeatureAggregator([16, 8], [2, 1], out_channels=8)
    with pytest.raises(ValueError, match=r"\[16, 8\]"):
        agg(random_features([16, 4], [2, 1], (16, 16)))


def test_mismatched_config_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        FeatureAggregator([16, 8], [2], out_channels=8)
