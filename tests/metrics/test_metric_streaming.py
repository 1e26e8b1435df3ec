"""Routing batches of predictions and ground truth to the per-task accumulators."""

import pytest
import torch

from diff2in1.metrics import (
    DEPTH_KEYS,
    NORMAL_KEYS,
    compute_all,
    depth_metrics,
    make_accumulators,
    normal_metrics,
    segmentation_metrics,
    update_from_batch,
)
from diff2in1.tasks import DEPTH, IGNORE_INDEX, NORMAL, SEMSEG


def _batch(generator: torch.Generator, b: int = 2, h: int = 6, w: int = 8, num_classes: int = 4):
    normal = torch.nn.functional.normalize(torch.randn(b, 3, h, w, generator=generator), dim=1)
    depth = 1 + 4 * torch.rand(b, 1, h, w, generator=generator)
    semseg = torch.randint(0, num_classes, (b, h, w), generator=generator)
    mask = {task: torch.rand(b, h, w, generator=generator) > 0.2 for task in (NORMAL, DEPTH, SEMSEG)}
    batch = {NORMAL: normal, DEPTH: depth, SEMSEG: semseg, "mask": mask, "id": [str(i) for i in range(b)]}
    preds = {
        NORMAL: normal + 0.5 * torch.randn(b, 3, h, w, generator=generator),
        DEPTH: depth * (1 + 0.2 * torch.randn(b, 1, h, w, generator=generator)).abs(),
        SEMSEG: torch.randint(0, num_classes, (b, h, w), generator=generator),
    }
    return preds, batch


def test_update_from_batch_matches_functions():
    generator = torch.Generator().manual_seed(0)
    pairs = [_batch(generator) for _ in range(3)]
    accumulators = make_accumulators([NORMAL, DEPTH, SEMSEG], num_classes=4)
    for preds, batch in pairs:
        update_from_batch(accumulators, preds, batch)
    results = compute_all(accumulators)

    def cat(source: str, key: str) -> torch.Tensor:
        return torch.cat([(p if source == "pred" else b)[key] for p, b in pairs])

    masks = {t: torch.cat([b["mask"][t] for _, b in pairs]) for t in (NORMAL, DEPTH, SEMSEG)}
    normal = normal_metrics(cat("pred", NORMAL), cat("gt", NORMAL), masks[NORMAL])
    assert set(results[NORMAL]) == set(NORMAL_KEYS)
    assert results[NORMAL]["mean"] == pytest.approx(normal["mean"], rel=1e-12)
    assert abs(results[NORMAL]["median"] - normal["median"]) < accumulators[NORMAL].bin_deg
    assert set(results[DEPTH]) == set(DEPTH_KEYS)
    assert results[DEPTH] == pytest.approx(depth_metrics(cat("pred", DEPTH), cat("gt", DEPTH), masks[DEPTH]))
    # The semseg mask turns masked-out pixels into ignored ones.
    gt = cat("gt", SEMSEG).masked_fill(~masks[SEMSEG], IGNORE_INDEX)
    assert results[SEMSEG] == segmentation_metrics(cat("pred", SEMSEG), gt, 4)
    assert results[SEMSEG] != segmentation_metrics(cat("pred", SEMSEG), cat("gt", SEMSEG), 4)


def test_only_requested_tasks():
    preds, batch = _batch(torch.Generator().manual_seed(1))
    accumulators = make_accumulators([DEPTH])
    del preds[NORMAL], preds[SEMSEG]
    update_from_batch(accumulators, preds, batch)
    assert list(compute_all(accumulators)) == [DEPTH]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="num_classes"):
        make_accumulators([SEMSEG])
    with pytest.raises(ValueError, match="unknown task"):
        make_accumulators(["edges"])
    preds, batch = _batch(torch.Generator().manual_seed(2))
    with pytest.raises(KeyError, match="normal"):
        update_from_batch(make_accumulators([NORMAL]), {DEPTH: preds[DEPTH]}, batch)
