"""Boundary, saliency and human-part heads, and the multi-task loss weighting."""

from __future__ import annotations

import math

import torch
from head_test_utils import fit, random_features

from diff2in1.heads import PerceptionModel
from diff2in1.heads.edge import EdgeHead
from diff2in1.heads.human_parts import HumanPartsHead
from diff2in1.heads.saliency import SaliencyHead

CHANNELS, STRIDES = [16, 8], [4, 2]


def test_binary_heads_give_probabilities_under_the_task_name(fused):
    for head, key in ((EdgeHead(in_channels=8), "edge"), (SaliencyHead(in_channels=8), "saliency")):
        pred = head(fused, (20, 24))
        assert pred[key].shape == (2, 1, 20, 24) and torch.allclose(pred[key], pred["logits"].sigmoid())
        conf = head.confidence(pred)
        assert conf.shape == (2, 20, 24) and (conf >= 0.5).all()
        assert head.to_picture(pred).shape == (2, 20, 24, 3)


def test_edge_loss_is_class_balanced_bce_by_hand():
    head = EdgeHead(in_channels=8)
    logits = torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)
    pred = {"logits": logits, "edge": logits.sigmoid()}
    target = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    # positive: 0.95 * -log(sigmoid(0)); negative: 0.05 * -log(1 - sigmoid(2)); mean over the 2 pixels
    expected = (0.95 * math.log(2) + 0.05 * math.log(1 + math.exp(2))) / 2
    loss = head.loss(pred, target, torch.ones(1, 1, 2, dtype=torch.bool))
    assert abs(float(loss) - expected) < 1e-6


def test_saliency_loss_is_plain_bce_and_takes_soft_targets():
    head = SaliencyHead(in_channels=8)
    logits = torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)
    pred = {"logits": logits, "saliency": logits.sigmoid()}
    target = torch.tensor([0.5, 1.0]).view(1, 1, 1, 2)
    expected = (math.log(2) + math.log(1 + math.exp(-2))) / 2
    loss = head.loss(pred, target, torch.tensor([[[True, True]]]))
    assert abs(float(loss) - expected) < 1e-6
    assert float(head.loss(pred, target, torch.tensor([[[False, False]]]))) == 0.0


def test_binary_mirror_average_is_the_mean_probability(fused):
    head = SaliencyHead(in_channels=8)
    a, b = head(fused, (8, 8)), head(fused.flip(-1), (8, 8))
    merged = head.average_with_mirror(a, b)
    assert torch.allclose(merged["saliency"], (a["saliency"] + b["saliency"].flip(-1)) / 2)
    assert torch.allclose(merged["logits"].sigmoid(), merged["saliency"], atol=1e-5)


def test_human_parts_head_has_seven_classes_and_fits(fused):
    head = HumanPartsHead(in_channels=8)
    pred = head(fused, (16, 16))
    assert pred["logits"].shape[1] == 7 and pred["human_parts"].shape == (2, 16, 16)
    target = torch.full((2, 16, 16), 255, dtype=torch.int64)
    target[:, 4:12, 4:12] = 3
    target[:, :4] = 0
    mask = target != 255
    first, last = fit(lambda: head.loss(head(fused, (16, 16)), target, mask), head.parameters(), steps=30)
    assert last < first / 2


def _model(weighting: str) -> PerceptionModel:
    torch.manual_seed(0)
    return PerceptionModel(CHANNELS, STRIDES, ["normal", "semseg", "edge", "saliency", "human_parts"],
                           num_classes=3, channels=16, loss_weighting=weighting)


def _batch() -> dict:
    g = torch.Generator().manual_seed(1)
    return {"normal": torch.nn.functional.normalize(torch.randn(2, 3, 16, 16, generator=g), dim=1),
            "semseg": torch.randint(0, 3, (2, 16, 16), generator=g),
            "edge": (torch.rand(2, 1, 16, 16, generator=g) > 0.9).float(),
            "saliency": (torch.rand(2, 1, 16, 16, generator=g) > 0.5).float(),
            "human_parts": torch.randint(0, 7, (2, 16, 16), generator=g)}


def test_fixed_weights_default_to_the_multitask_works():
    model = _model("fixed")
    assert model.loss_weights == {"normal": 1.0, "semseg": 1.0, "edge": 50.0, "saliency": 5.0, "human_parts": 2.0}
    preds = model(random_features(CHANNELS, STRIDES, (16, 16)), (16, 16))
    total, logs = model.loss(preds, _batch())
    expected = sum(model.loss_weights[t] * logs[t] for t in model.tasks)
    assert abs(float(total.detach()) - expected) < 1e-4 and not list(model.weighting.parameters())


def test_uncertainty_weighting_starts_at_the_fixed_weights_and_learns():
    model = _model("uncertainty")
    assert set(model.weighting.log_variance) == {"semseg", "edge", "saliency", "human_parts"}  # normal stays fixed
    assert all(abs(model.weighting.current()[t] - w) < 1e-4 for t, w in model.loss_weights.items())
    assert "weighting.log_variance.edge" in model.state_dict()
    features = random_features(CHANNELS, STRIDES, (16, 16))
    _, logs = model.loss(model(features, (16, 16)), _batch())
    opt = torch.optim.SGD(model.weighting.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model.loss(model(features, (16, 16)), _batch())[0].backward()
        opt.step()
    # d/ds (exp(-s) L + s) = 1 - exp(-s) L: edge starts at weight 50 with L ~ 0.04, so its weight falls
    assert model.weighting.current()["edge"] < 50.0
    rebuilt = PerceptionModel.from_config(model.config())
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.weighting.current() == model.weighting.current()
