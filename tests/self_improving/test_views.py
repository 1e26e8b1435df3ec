"""Views of an image and the maps that follow them: the student's labels and the teacher's ensemble."""

from __future__ import annotations

import torch

from diff2in1.heads import PerceptionModel
from diff2in1.self_improving.pseudo_loss import pseudo_loss
from diff2in1.self_improving.views import ViewBank, apply_view, unwarp_predictions, warp_targets

KEYS = ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"]


def test_the_clean_view_is_the_image_and_the_mirror_negates_normal_x():
    bank = ViewBank(num_views=4)
    image = torch.rand(2, 3, 8, 8)
    assert torch.allclose(apply_view(image, bank.params(KEYS, 0)), image, atol=1e-6)
    assert torch.allclose(apply_view(image, bank.params(KEYS, 1)), image.flip(-1), atol=1e-6)
    normal = torch.nn.functional.normalize(torch.randn(2, 3, 8, 8), dim=1)
    mirrored = warp_targets({"normal": normal}, bank.params(KEYS, 1))["normal"]
    assert torch.allclose(mirrored[:, 0], -normal[:, 0].flip(-1), atol=1e-6)
    assert torch.allclose(mirrored[:, 1:], normal[:, 1:].flip(-1), atol=1e-6)


def test_perturbed_views_are_fixed_per_image_and_differ_between_images():
    bank = ViewBank(num_views=4, crop_min_scale=0.5, jitter=0.3)
    a, b = bank.params(KEYS, 2), bank.params(KEYS, 2)
    assert torch.equal(a.scale, b.scale) and torch.equal(a.colour, b.colour)
    assert a.scale[0] != a.scale[1]
    assert (a.scale >= 0.5).all() and (a.scale <= 1).all()
    assert not torch.equal(bank.params(KEYS, 3).scale, a.scale)


def test_a_prediction_in_a_view_maps_back_onto_the_full_frame_where_the_view_covers_it():
    bank = ViewBank(num_views=6, crop_min_scale=0.6, jitter=0.0)
    depth = torch.linspace(1, 5, 32).repeat(2, 1, 32, 1)  # depth grows left to right
    for view in range(2, 6):
        params = bank.params(KEYS, view)
        seen = warp_targets({"depth": depth}, params)["depth"]
        back, coverage = unwarp_predictions({"depth": seen.float()}, params)
        inside = coverage > 0.99
        assert inside.float().mean() > 0.3
        assert (back["depth"][:, 0][inside] - depth[:, 0][inside]).abs().max() < 0.3  # nearest + bilinear resampling


def _model() -> PerceptionModel:
    torch.manual_seed(0)
    return PerceptionModel([8], [1], ["normal", "depth", "semseg"], num_classes=3, channels=8)


def _targets(b: int = 2, size: int = 8) -> dict:
    probs = torch.softmax(torch.randn(b, 3, size, size) * 3, dim=1)
    covered = torch.ones(b, size, size, dtype=torch.bool)
    return {"normal": torch.nn.functional.normalize(torch.randn(b, 3, size, size), dim=1),
            "depth": torch.rand(b, 1, size, size) * 4 + 0.5, "probs": probs, "semseg": probs.argmax(1),
            "mask": {"normal": covered, "depth": covered, "semseg": covered},
            "weight": {"normal": torch.rand(b, size, size), "semseg": probs.amax(1)}}


def test_soft_targets_keep_kappa_out_of_the_student_gradient():
    model = _model()
    preds = model([torch.randn(2, 8, 8, 8)], (8, 8))
    preds["normal"]["kappa"].retain_grad()
    loss, logs = pseudo_loss(model, preds, _targets(), soft=True)
    loss.backward()
    assert preds["normal"]["kappa"].grad is None or not preds["normal"]["kappa"].grad.any()
    assert {"pseudo/normal", "pseudo/depth", "pseudo/semseg", "pseudo/total"} <= set(logs)


def test_soft_segmentation_targets_equal_cross_entropy_when_one_hot():
    model = _model()
    preds = model([torch.randn(2, 8, 8, 8)], (8, 8))
    targets = _targets()
    targets["probs"] = torch.nn.functional.one_hot(targets["semseg"], 3).permute(0, 3, 1, 2).float()
    _, soft = pseudo_loss(model, preds, targets, soft=True)
    _, hard = pseudo_loss(model, preds, targets, soft=False)
    assert abs(soft["pseudo/semseg"] - hard["pseudo/semseg"]) < 1e-5


def test_the_release_cos_mask_drops_pixels_where_student_and_teacher_agree():
    model = _model()
    preds = model([torch.randn(2, 8, 8, 8)], (8, 8))
    targets = _targets()
    targets["normal"] = preds["normal"]["normal"].detach().clone()  # the student already agrees everywhere
    loss, logs = pseudo_loss(model, preds, targets, soft=False, cos_mask=0.999)
    assert logs["pseudo/normal"] == 0.0


def test_a_segmentation_threshold_keeps_only_the_pixels_theta_c_is_sure_of():
    model = _model()
    preds = model([torch.randn(2, 8, 8, 8)], (8, 8))
    targets = _targets()
    targets["weight"]["semseg"] = torch.where(torch.arange(8)[None, None, :] < 4, 0.99, 0.5).expand(2, 8, 8)
    from diff2in1.self_improving.pseudo_loss import agreement_mask

    kept = agreement_mask(preds, targets, 0.0, semseg_threshold=0.9)["semseg"]
    assert kept[..., :4].all() and not kept[..., 4:].any()


def test_depth_in_a_crop_is_scaled_by_its_zoom_and_back():
    bank = ViewBank(num_views=3, crop_min_scale=0.5, jitter=0.0)
    params = bank.params(KEYS, 2)
    depth = torch.full((2, 1, 16, 16), 3.0)
    seen = warp_targets({"depth": depth}, params)["depth"]
    assert torch.allclose(seen[:, 0, 0, 0], 3.0 * params.scale)
    back, _ = unwarp_predictions({"depth": seen}, params)
    assert torch.allclose(back["depth"], depth, atol=1e-5)


def test_a_shifted_view_moves_the_image_by_its_share_of_the_side_and_maps_back():
    from diff2in1.self_improving.views import shifted_views

    bank = ViewBank(num_views=2, shift=2 / 16)
    image = torch.rand(2, 3, 16, 16)
    first, mirrored = shifted_views(2)
    seen = apply_view(image, bank.params(KEYS, first))  # direction (1, 1): the view starts 2 pixels in
    assert torch.allclose(seen[..., :-2, :-2], image[..., 2:, 2:], atol=1e-5)
    mirror_seen = apply_view(image, bank.params(KEYS, mirrored))  # the mirror, moved the same way down
    assert torch.allclose(mirror_seen[..., :-2, 2:], image.flip(-1)[..., 2:, :-2], atol=1e-5)
    depth = torch.rand(2, 1, 16, 16) + 1
    for view in shifted_views(8):
        params = bank.params(KEYS, view)
        back, coverage = unwarp_predictions(warp_targets({"depth": depth}, params), params)
        inside = coverage > 0.99
        assert 0.7 < inside.float().mean() < 0.8  # 14 of 16 rows and columns
        assert torch.allclose(back["depth"][:, 0][inside], depth[:, 0][inside], atol=1e-5)
    assert bank.tag(first) != ViewBank(2, shift=1 / 16).tag(first)  # cached features follow the shift


def test_a_head_ensemble_averages_its_members_and_one_member_is_that_head():
    from diff2in1.self_improving.teacher import HeadEnsemble, soft_predictions

    features = [torch.randn(2, 8, 8, 8)]
    first = _model()
    torch.manual_seed(1)
    second = PerceptionModel([8], [1], ["normal", "depth", "semseg"], num_classes=3, channels=8)
    one, a, b = (soft_predictions(m, features, (8, 8)) for m in (HeadEnsemble([first]), first, second))
    for key in one:
        torch.testing.assert_close(one[key], a[key], atol=1e-5, rtol=1e-4)
    both = soft_predictions(HeadEnsemble([first, second]), features, (8, 8))
    torch.testing.assert_close(both["depth"], (a["depth"] + b["depth"]) / 2)
    torch.testing.assert_close(both["probs"], (a["probs"] + b["probs"]) / 2, atol=1e-6, rtol=1e-5)
    assert (both["normal"].norm(dim=1) < 1 - 1e-4).any()  # disagreeing members shorten the mean direction


def test_pseudo_labels_for_some_tasks_leave_the_others_to_the_real_labels():
    model = _model()
    preds = model([torch.randn(2, 8, 8, 8)], (8, 8))
    loss, logs = pseudo_loss(model, preds, _targets(), soft=True, tasks=["normal", "depth"])
    loss.backward()
    assert "pseudo/semseg" not in logs and {"pseudo/normal", "pseudo/depth"} <= set(logs)
    seg_head = model.heads["semseg"]
    assert all(p.grad is None or not p.grad.any() for p in seg_head.parameters())
