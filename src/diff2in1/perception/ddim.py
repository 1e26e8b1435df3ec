"""Multi-modal data creation in one DDIM pass (paper, section 2): noise a real image to t*, denoise it, label it.

The perception head reads the UNet features of the LAST denoising step, the same UNet pass that produces the
final DDIM update; there is no extra UNet call. That step runs at the smallest timestep of the schedule (0 for
DDIM's "leading" spacing, 1 with SD's ``steps_offset=1``), on an input that is almost the clean created sample.
This is close to the perception timestep t_p (the release uses 0) at which the head was trained, so the head
reads these features as it reads the features of a real image.

A backbone whose UNet trained with the heads (``backbone.trained``) denoises with the pretrained generator
(adapters disabled, or the pretrained weights swapped in), so generation does not drift as perception
trains; the heads then read one perception pass (t_p, as in training) of their own trained UNet on the
created sample: one UNet call more than the frozen case.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import torch

from ..backbones import DiffusionBackbone
from ..heads import PerceptionModel

Generator = torch.Generator | list[torch.Generator] | None
Preds = dict[str, dict[str, torch.Tensor]]


def t_star_from_strength(strength: float, num_train_timesteps: int = 1000) -> int:
    """The noise timestep of a creation ``strength`` in (0, 1]: t* = round(strength * num_train_timesteps)."""
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1] (t* / num_train_timesteps), got {strength}")
    return min(int(round(strength * num_train_timesteps)), num_train_timesteps - 1)


def strength_from_t_star(t_star: int, num_train_timesteps: int = 1000) -> float:
    """The creation strength of a noise timestep: t* / num_train_timesteps (600 of 1000 -> 0.6)."""
    return float(t_star) / float(num_train_timesteps)


def denoising_timesteps(timesteps: torch.Tensor, t_star: int) -> torch.Tensor:
    """The part of a descending DDIM schedule that creation runs: from the first timestep <= t* down to the end.

    With 50 steps over 1000 training timesteps ("leading" spacing 980, 960, ..., 0) and t* = 600 that is
    600, 580, ..., 0: 31 steps. The image is noised to exactly the first of them, so the loop is consistent.
    """
    run = timesteps[timesteps <= int(t_star)]
    if run.numel() == 0:
        raise ValueError(
            f"t*={t_star} is below the smallest timestep {int(timesteps.min())} of the {len(timesteps)}-step "
            f"DDIM schedule; choose t* >= {int(timesteps.min())} (or more steps)"
        )
    return run


def _conditioning(
    backbone: DiffusionBackbone, captions: list[str] | None, batch: int, guidance_scale: float
) -> torch.Tensor | None:
    if not backbone.takes_text:
        if guidance_scale != 1.0:
            raise ValueError(
                f"guidance_scale={guidance_scale} needs a text-conditioned backbone; {type(backbone).__name__} "
                "is unconditional: use guidance_scale 1"
            )
        return None
    if captions is not None and len(captions) != batch:
        raise ValueError(f"got {len(captions)} captions for a batch of {batch} images; pass one per image")
    return backbone.encode_text(list(captions)) if captions is not None else backbone.encode_text(None)


def _model_pass(
    backbone: DiffusionBackbone,
    sample: torch.Tensor,
    t: torch.Tensor,
    cond: torch.Tensor | None,
    guidance_scale: float,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One UNet pass: the (guided, against the empty prompt) output and the features of the conditional half."""
    if guidance_scale != 1.0:
        return backbone.guided_output(sample, t, cond, None, scale=guidance_scale)
    return backbone.unet_pass(sample, t, cond)


def label_features(
    models: Mapping[str, PerceptionModel] | PerceptionModel,
    features: list[torch.Tensor],
    out_size: tuple[int, int],
) -> Preds | dict[str, Preds]:
    """Apply one head, or each of several by name, to the same features (cast to the head's dtype)."""

    def run(model: PerceptionModel) -> Preds:
        dtype = next(model.parameters()).dtype
        return model([f.to(dtype) for f in features], out_size)

    if isinstance(models, PerceptionModel):
        return run(models)
    return {name: run(model) for name, model in models.items()}


@torch.no_grad()
def create_batch(
    backbone: DiffusionBackbone,
    models: Mapping[str, PerceptionModel] | PerceptionModel,
    images01: torch.Tensor,
    captions: list[str] | None = None,
    t_star: int = 600,
    num_inference_steps: int = 50,
    eta: float = 0.0,
    guidance_scale: float = 1.0,
    generator: Generator = None,
) -> tuple[torch.Tensor, Preds | dict[str, Preds]]:
    """Create images resembling ``images01`` and their labels in one DDIM pass (paper, section 2).

    Encode, noise to the first schedule timestep <= ``t_star``, denoise to 0 with DDIM, decode; the head(s)
    read the features of the final UNet pass (see the module docstring). Resets the backbone's scheduler to
    ``num_inference_steps`` steps.

    Args:
        backbone: the frozen diffusion model.
        models: the perception head, or several by name (e.g. {"theta_c": θC, "theta_e": θE}) that all read the
            same features.
        images01: Bx3xHxW real images in [0, 1] (H, W as the backbone expects, e.g. `sample_size`).
        captions: B captions, the condition of text-conditioned backbones (None = the empty prompt); ignored
            by unconditional backbones.
        t_star: noise timestep in training steps (the release: 600 of 1000); see `t_star_from_strength`.
        num_inference_steps: length of the full DDIM schedule (50 in the release; ~30 run for t* = 600).
        eta: DDIM stochasticity (0 = deterministic given the initial noise).
        guidance_scale: classifier-free guidance against the empty prompt (1 = none, as in the release).
        generator: one generator, or one per image (then each image's noise depends only on its own
            generator, so it does not depend on the batch it is created in).

    Returns:
        (created images Bx3xHxW in [0, 1] on the backbone's device, preds: the head's output as in
        ``PerceptionModel.forward``, or {name: preds} when ``models`` is a mapping).
    """
    if images01.ndim != 4 or images01.shape[1] != 3:
        raise ValueError(f"images01 must be Bx3xHxW in [0, 1], got shape {tuple(images01.shape)}")
    batch = images01.shape[0]
    run = denoising_timesteps(backbone.set_inference_steps(num_inference_steps), t_star)
    cond = _conditioning(backbone, captions, batch, guidance_scale)
    sample = backbone.encode(images01.to(backbone.device) * 2 - 1)
    sample = backbone.add_noise(sample, run[0], generator=generator)
    features: list[torch.Tensor] = []
    with backbone.trained.untouched() if backbone.trained is not None else contextlib.nullcontext():
        for t in run:
            output, features = _model_pass(backbone, sample, t, cond, guidance_scale)
            sample = backbone.denoise_step(output, t, sample, eta=eta, generator=generator)
    if backbone.trained is not None:  # the heads read their own trained UNet's pass on the created sample
        t_p = backbone.perception_timestep
        features = backbone.unet_pass(backbone.add_noise(sample, t_p, generator=generator), t_p, cond)[1]
    created = (backbone.decode(sample).float() + 1) / 2
    return created, label_features(models, features, tuple(created.shape[-2:]))
