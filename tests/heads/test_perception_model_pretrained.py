"""PerceptionModel is a diffusers model: save_pretrained / from_pretrained round-trip, config() as before."""

from __future__ import annotations

import json

import pytest
import torch
from head_test_utils import random_features

from diff2in1.heads import PerceptionModel

CHANNELS, STRIDES = [16, 8], [4, 2]


def tiny() -> PerceptionModel:
    return PerceptionModel(CHANNELS, STRIDES, ["normal", "semseg"], num_classes=3, channels=8,
                           loss_weights={"semseg": 0.5}).eval()


def test_save_pretrained_round_trips_config_and_predictions(tmp_path):
    model = tiny()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["_class_name"] == "PerceptionModel"
    loaded = PerceptionModel.from_pretrained(tmp_path).eval()
    assert loaded.config() == model.config() and loaded.loss_weights == {"normal": 1.0, "semseg": 0.5}
    assert list(loaded.state_dict()) == list(model.state_dict())
    features = random_features(CHANNELS, STRIDES, (16, 16))
    with torch.no_grad():
        a, b = model(features, (16, 16)), loaded(features, (16, 16))
    assert torch.equal(a["normal"]["normal"], b["normal"]["normal"])
    assert torch.equal(a["semseg"]["logits"], b["semseg"]["logits"])


def test_config_reads_as_attributes_and_calls_as_a_plain_dict():
    model = tiny()
    assert model.config.tasks == ["normal", "semseg"] and model.config.num_classes == 3
    plain = model.config()
    plain["tasks"].append("depth")  # a copy: the model's config is untouched
    assert model.config.tasks == ["normal", "semseg"]
    assert set(plain) == {"feature_channels", "feature_strides", "tasks", "num_classes", "channels", "max_depth",
                          "loss_weights", "fuse_stride", "loss_weighting"}


def test_from_config_refuses_unknown_arguments():
    config = {**tiny().config(), "fusion": "sum"}
    with pytest.raises(TypeError, match="fusion"):
        PerceptionModel.from_config(config)
