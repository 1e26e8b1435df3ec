from __future__ import annotations

import json

import pytest
import torch
from head_test_utils import random_features
from safetensors.torch import load_file, save_file

from diff2in1.heads import FeatureAggregator, PerceptionModel

CONFIGS = [([16, 8, 8, 4], [8, 4, 2, 1]), ([16, 16, 8, 8], [32, 16, 8, 8])]
ALL_TASKS = ["normal", "depth", "semseg"]


def tiny_model(channels, strides, tasks=ALL_TASKS, **kwargs) -> PerceptionModel:
    return PerceptionModel(channels, strides, tasks, num_classes=4, channels=8, max_depth=5.0, **kwargs)


def batch_for(size: tuple[int, int], batch: int = 2) -> dict:
    gen = torch.Generator().manual_seed(3)
    h, w = size
    normal = torch.nn.functional.normalize(torch.randn(batch, 3, h, w, generator=gen), dim=1)
    return {
        "normal": normal,
        "depth": torch.rand(batch, 1, h, w, generator=gen) * 4 + 0.5,
        "semseg": torch.randint(0, 4, (batch, h, w), generator=gen),
        "mask": {t: torch.ones(batch, h, w, dtype=torch.bool) for t in ALL_TASKS},
    }


@pytest.mark.parametrize(("channels", "strides"), CONFIGS)
@pytest.mark.parametrize("size", [(64, 64), (64, 96)])
def test_every_task_is_predicted_at_the_image_size(channels, strides, size):
    model = tiny_model(channels, strides)
    preds = model(random_features(channels, strides, size), size)
    assert set(preds) == set(ALL_TASKS)
    assert preds["normal"]["normal"].shape == (2, 3, *size)
    assert torch.allclose(preds["normal"]["normal"].norm(dim=1), torch.ones(2, *size), atol=1e-5)
    assert (preds["normal"]["kappa"] > 0).all()
    assert preds["depth"]["depth"].shape == (2, 1, *size) and (preds["depth"]["depth"] > 0).all()
    assert preds["semseg"]["logits"].shape == (2, 4, *size)


def test_tasks_share_one_aggregator_run_once_per_forward():
    channels, strides = CONFIGS[0]
    model = tiny_model(channels, strides)
    aggregators = [m for m in model.modules() if isinstance(m, FeatureAggregator)]
    assert len(aggregators) == 1
    calls = []
    model.aggregator.register_forward_hook(lambda *_: calls.append(1))
    preds = model(random_features(channels, strides, (32, 32)), (32, 32))
    assert len(calls) == 1
    # each task's loss trains the shared aggregator
    batch = batch_for((32, 32))
    for task in ALL_TASKS:
        model.zero_grad()
        head = model.heads[task]
        head.loss(preds[task], batch[task], batch["mask"][task]).backward(retain_graph=True)
        grads = [p.grad for p in model.aggregator.parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), task


def test_loss_is_the_weighted_sum_of_task_losses():
    channels, strides = CONFIGS[0]
    model = tiny_model(channels, strides, loss_weights={"depth": 0.5, "semseg": 2.0})
    preds = model(random_features(channels, strides, (32, 32)), (32, 32))
    total, logs = model.loss(preds, batch_for((32, 32)))
    assert set(logs) == {*ALL_TASKS, "total"}
    expected = logs["normal"] + 0.5 * logs["depth"] + 2.0 * logs["semseg"]
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert logs["total"] == pytest.approx(total.item())
    total.backward()


def test_loss_without_masks_uses_the_encodings_validity():
    channels, strides = CONFIGS[0]
    model = tiny_model(channels, strides)
    preds = model(random_features(channels, strides, (32, 32)), (32, 32))
    batch = batch_for((32, 32))
    batch["depth"][:, :, :8] = 0
    masked = {**batch, "mask": {**batch["mask"], "depth": batch["depth"][:, 0] > 0}}
    _, with_masks = model.loss(preds, masked)
    _, without = model.loss(preds, {k: v for k, v in batch.items() if k != "mask"})
    assert without == pytest.approx(with_masks)


def test_loss_names_missing_ground_truth():
    channels, strides = CONFIGS[0]
    model = tiny_model(channels, strides)
    preds = model(random_features(channels, strides, (32, 32)), (32, 32))
    batch = batch_for((32, 32))
    del batch["depth"]
    with pytest.raises(KeyError, match="depth"):
        model.loss(preds, batch)


def test_labels_confidences_and_metric_predictions_have_ground_truth_formats():
    channels, strides = CONFIGS[1]
    model = tiny_model(channels, strides)
    preds = model(random_features(channels, strides, (64, 64)), (64, 64))
    labels = model.labels_from_preds(preds)
    assert labels["normal"].shape == (2, 3, 64, 64) and labels["depth"].shape == (2, 1, 64, 64)
    assert labels["semseg"].shape == (2, 64, 64) and labels["semseg"].dtype == torch.int64
    assert not any(t.requires_grad for t in labels.values())
    conf = model.confidences(preds)
    assert conf["depth"] is None
    assert conf["normal"].shape == conf["semseg"].shape == (2, 64, 64)
    metrics = model.predictions_for_metrics(preds)
    assert set(metrics) == set(ALL_TASKS) and metrics["depth"].shape == (2, 1, 64, 64)
    pictures = model.pictures(preds)
    assert all(p.shape == (2, 64, 64, 3) for p in pictures.values())


def test_single_task_model_has_only_that_head():
    channels, strides = CONFIGS[0]
    model = PerceptionModel(channels, strides, ["depth"], channels=8)
    assert list(model.heads) == ["depth"]
    preds = model(random_features(channels, strides, (32, 32)), (32, 32))
    total, logs = model.loss(preds, {"depth": batch_for((32, 32))["depth"]})
    assert set(logs) == {"depth", "total"}


def test_config_round_trip_through_json_and_safetensors(tmp_path):
    channels, strides = CONFIGS[1]
    model = tiny_model(channels, strides, loss_weights={"normal": 2.0})
    save_file(model.state_dict(), tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(model.config()))
    loaded = PerceptionModel.from_config(json.loads((tmp_path / "config.json").read_text()))
    loaded.load_state_dict(load_file(tmp_path / "model.safetensors"), strict=True)
    assert loaded.config() == model.config()
    features = random_features(channels, strides, (64, 64))
    with torch.no_grad():
        a, b = model(features, (64, 64)), loaded(features, (64, 64))
    for task in ALL_TASKS:
        for key in a[task]:
            assert torch.equal(a[task][key], b[task][key]), (task, key)


def test_bad_task_lists_are_refused():
    channels, strides = CONFIGS[0]
    with pytest.raises(ValueError, match="unknown task"):
        PerceptionModel(channels, strides, ["normals"])
    with pytest.raises(ValueError, match="num_classes"):
        PerceptionModel(channels, strides, ["semseg"])
    with pytest.raises(ValueError, match="loss_weights"):
        PerceptionModel(channels, strides, ["depth"], loss_weights={"normal": 1.0})


@pytest.mark.parametrize("fuse_stride", [1, 2, 4, 8])
def test_every_fuse_stride_predicts_at_the_image_size_and_round_trips(fuse_stride):
    channels, strides = CONFIGS[0]
    model = tiny_model(channels, strides, fuse_stride=fuse_stride)
    preds = model(random_features(channels, strides, (32, 48)), (32, 48))
    assert preds["semseg"]["logits"].shape == (2, 4, 32, 48)
    rebuilt = PerceptionModel.from_config(json.loads(json.dumps(model.config())))
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.config()["fuse_stride"] == fuse_stride


def test_a_detail_map_of_the_wrong_width_names_the_setting():
    from diff2in1.heads import DepthHead, Fused

    head = DepthHead(in_channels=8, mid_channels=16)
    with pytest.raises(ValueError, match="detail_channels=16"):
        head(Fused(torch.rand(1, 8, 4, 4), torch.rand(1, 8, 16, 16)), (16, 16))


def test_averaging_with_the_mirror_of_the_same_prediction_changes_nothing():
    channels, strides = CONFIGS[0]
    model = tiny_model(channels, strides)
    with torch.no_grad():
        preds = model(random_features(channels, strides, (16, 16)), (16, 16))
    normal = preds["normal"]["normal"].flip(-1)
    mirrored = {"normal": {"normal": torch.cat([-normal[:, :1], normal[:, 1:]], dim=1),
                           "kappa": preds["normal"]["kappa"].flip(-1)},
                "depth": {"depth": preds["depth"]["depth"].flip(-1)},
                "semseg": {"logits": preds["semseg"]["logits"].flip(-1)}}
    merged = model.average_with_mirror(preds, mirrored)
    assert torch.allclose(merged["normal"]["normal"], preds["normal"]["normal"], atol=1e-5)
    assert torch.allclose(merged["normal"]["kappa"], preds["normal"]["kappa"])
    assert torch.allclose(merged["depth"]["depth"], preds["depth"]["depth"])
    assert torch.equal(merged["semseg"]["semseg"], preds["semseg"]["semseg"])
    assert torch.allclose(merged["semseg"]["logits"].exp(), preds["semseg"]["logits"].softmax(dim=1), atol=1e-5)
