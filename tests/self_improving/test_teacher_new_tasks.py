"""θC's soft targets and the student's loss on them for boundaries, saliency and human parts."""

from __future__ import annotations

import math

import torch

from diff2in1.heads import PerceptionModel
from diff2in1.self_improving.pseudo_loss import pseudo_loss
from diff2in1.self_improving.teacher import HeadEnsemble, _targets, soft_predictions

TASKS = ["edge", "saliency", "human_parts"]


def _model(seed: int) -> PerceptionModel:
    torch.manual_seed(seed)
    return PerceptionModel([16, 8], [4, 2], TASKS, channels=16)


def _features() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 16, 4, 4, generator=g), torch.randn(2, 8, 8, 8, generator=g)]


def test_targets_are_the_mean_probabilities_of_the_ensemble():
    members = [_model(0), _model(1)]
    size = (16, 16)
    with torch.no_grad():
        outs = [soft_predictions(m, _features(), size) for m in members]
        merged = HeadEnsemble(members)(_features(), size)
    mean_edge = (outs[0]["edge"] + outs[1]["edge"]) / 2
    assert torch.allclose(merged["edge"]["edge"], mean_edge, atol=1e-6)
    mean_parts = (outs[0]["human_parts_probs"] + outs[1]["human_parts_probs"]) / 2
    assert torch.allclose(merged["human_parts"]["logits"].softmax(dim=1), mean_parts, atol=1e-5)
    covered = torch.ones(2, *size, dtype=torch.bool)
    targets = _targets({key: (outs[0][key] + outs[1][key]) / 2 for key in outs[0]}, covered)
    assert torch.allclose(targets["edge"], mean_edge, atol=1e-6) and targets["mask"]["saliency"].all()
    assert torch.equal(targets["human_parts"], mean_parts.argmax(dim=1))
    assert (targets["weight"]["edge"] >= 0.5).all()


def test_student_loss_on_soft_targets_is_the_heads_loss_against_probabilities():
    student, teacher = _model(0), _model(1)
    size = (16, 16)
    with torch.no_grad():
        soft = soft_predictions(teacher, _features(), size)
    targets = _targets(soft, torch.ones(2, *size, dtype=torch.bool))
    preds = student(_features(), size)
    total, logs = pseudo_loss(student, preds, targets, soft=True, tasks=["saliency"])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(preds["saliency"]["logits"].detach(),
                                                                    soft["saliency"])
    assert math.isclose(logs["pseudo/saliency"], float(expected), rel_tol=1e-5)
    assert set(logs) == {"pseudo/saliency", "pseudo/total"}
    assert math.isclose(float(total.detach()), 5.0 * float(expected), rel_tol=1e-5)  # saliency's fixed weight
    _, all_logs = pseudo_loss(student, preds, targets, soft=True)
    assert {"pseudo/edge", "pseudo/human_parts"} <= set(all_logs)


def test_pseudo_tasks_refuse_an_unknown_task():
    import pytest

    student = _model(0)
    preds = student(_features(), (16, 16))
    with torch.no_grad():
        targets = _targets(soft_predictions(_model(1), _features(), (16, 16)), torch.ones(2, 16, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"--pseudo-tasks: unknown task\(s\) \['edges'\]"):
        pseudo_loss(student, preds, targets, soft=True, tasks=["saliency", "edges"])
