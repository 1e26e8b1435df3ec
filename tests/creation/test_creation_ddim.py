"""`create_batch`: one DDIM pass from t* gives an image and its labels from the final step's features."""

from __future__ import annotations

import pytest
import torch

from diff2in1.creation import create_batch, denoising_timesteps, strength_from_t_star, t_star_from_strength
from diff2in1.heads import PerceptionModel


def _images(batch: int, side: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(seed))


def _generators(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_strength_and_t_star_round_trip() -> None:
    assert t_star_from_strength(0.6) == 600
    assert strength_from_t_star(600) == pytest.approx(0.6)
    assert t_star_from_strength(1.0) == 999
    with pytest.raises(ValueError, match="strength"):
        t_star_from_strength(0.0)


def test_schedule_starts_at_the_first_timestep_at_or_below_t_star(pixel_backbone) -> None:
    timesteps = pixel_backbone.set_inference_steps(50)
    run = denoising_timesteps(timesteps, 600)
    assert int(run[0]) <= 600 and int(run[-1]) == int(timesteps[-1])
    assert len(run) == 31  # leading spacing 980, 960, ..., 0
    with pytest.raises(ValueError, match="smallest timestep"):
        denoising_timesteps(timesteps + 5, 2)


def test_shapes_ranges_and_labels(pixel_backbone, pixel_head: PerceptionModel) -> None:
    images = _images(2, 16)
    created, preds = create_batch(pixel_backbone, pixel_head, images, None, t_star=600, num_inference_steps=10,
                                  generator=_generators([0, 1]))
    assert created.shape == images.shape
    assert created.min() >= 0 and created.max() <= 1
    labels = pixel_head.labels_from_preds(preds)
    assert labels["normal"].shape == (2, 3, 16, 16) and labels["depth"].shape == (2, 1, 16, 16)
    assert torch.allclose(labels["normal"].norm(dim=1), torch.ones(2, 16, 16), atol=1e-4)
    assert preds["normal"]["kappa"].shape[-2:] == (16, 16)


def test_labels_come_from_the_final_unet_pass_without_an_extra_call(
    pixel_backbone, pixel_head: PerceptionModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, list[torch.Tensor]]] = []
    original = pixel_backbone.unet_pass

    def counting(noisy, t, cond=None):
        output, features = original(noisy, t, cond)
        calls.append((int(t), features))
        return output, features

    monkeypatch.setattr(pixel_backbone, "unet_pass", counting)
    other = PerceptionModel(pixel_backbone.feature_channels, pixel_backbone.feature_strides, ["depth"], channels=8)
    _, preds = create_batch(pixel_backbone, {"theta_c": pixel_head, "theta_e": other}, _images(2, 16), None,
                            t_star=500, num_inference_steps=10, generator=_generators([0, 1]))
    expected_run = denoising_timesteps(pixel_backbone.set_inference_steps(10), 500)
    assert [t for t, _ in calls] == expected_run.tolist()  # one pass per DDIM step, none for the heads
    last_features = calls[-1][1]
    with torch.no_grad():
        direct = pixel_head(last_features, (16, 16))
        direct_other = other(last_features, (16, 16))
    assert torch.allclose(preds["theta_c"]["normal"]["normal"], direct["normal"]["normal"])
    assert torch.allclose(preds["theta_e"]["depth"]["depth"], direct_other["depth"]["depth"])


def test_small_t_star_gives_near_copies_and_large_t_star_drifts(pixel_backbone, pixel_head) -> None:
    images = _images(2, 16, seed=3)
    errors = {}
    for t_star in (20, 900):  # 1 and 10 steps of a 10-step schedule
        created, _ = create_batch(pixel_backbone, pixel_head, images, None, t_star=t_star, num_inference_steps=10,
                                  generator=_generators([5, 6]))
        errors[t_star] = float(((created - images) ** 2).mean())
    assert errors[20] < 0.01
    assert errors[20] < errors[900]


def test_a_seed_fixes_each_image_whatever_its_batch(pixel_backbone, pixel_head) -> None:
    images = _images(2, 16, seed=4)
    kwargs = {"t_star": 400, "num_inference_steps": 10, "eta": 0.5}
    both, preds = create_batch(pixel_backbone, pixel_head, images, None, generator=_generators([7, 8]), **kwargs)
    again, _ = create_batch(pixel_backbone, pixel_head, images, None, generator=_generators([7, 8]), **kwargs)
    alone, alone_preds = create_batch(pixel_backbone, pixel_head, images[1:], None, generator=_generators([8]),
                                      **kwargs)
    other, _ = create_batch(pixel_backbone, pixel_head, images, None, generator=_generators([9, 10]), **kwargs)
    assert torch.equal(both, again)
    assert torch.allclose(both[1:], alone, atol=1e-5)
    assert torch.allclose(preds["depth"]["depth"][1:], alone_preds["depth"]["depth"], atol=1e-4)
    assert not torch.allclose(both, other)


def test_unconditional_backbone_refuses_guidance(pixel_backbone, pixel_head) -> None:
    with pytest.raises(ValueError, match="guidance_scale"):
        create_batch(pixel_backbone, pixel_head, _images(1, 16), None, t_star=100, num_inference_steps=5,
                     guidance_scale=3.0)


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_text_backbone_is_conditioned_on_the_captions(sd_backbone, monkeypatch: pytest.MonkeyPatch,
                                                      scale: float) -> None:
    head = PerceptionModel(sd_backbone.feature_channels, sd_backbone.feature_strides, ["normal"], channels=8).eval()
    seen: list[list[str] | None] = []
    original = sd_backbone.encode_text

    def recording(captions):
        seen.append(None if captions is None else list(captions))
        return original(captions)

    monkeypatch.setattr(sd_backbone, "encode_text", recording)
    unet_calls = []
    handle = sd_backbone.unet.register_forward_hook(lambda *args: unet_calls.append(args[1][0].shape[0]))
    captions = ["a red box", "a green wall"]
    try:
        created, preds = create_batch(sd_backbone, head, _images(2, 32), captions, t_star=300,
                                      num_inference_steps=5, guidance_scale=scale, generator=_generators([0, 1]))
    finally:
        handle.remove()
    assert captions in seen
    assert created.shape == (2, 3, 32, 32) and preds["normal"]["normal"].shape == (2, 3, 32, 32)
    steps = len(denoising_timesteps(sd_backbone.set_inference_steps(5), 300))
    assert unet_calls == [2 if scale == 1.0 else 4] * steps  # guidance doubles the batch, still one pass a step
