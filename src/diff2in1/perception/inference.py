"""Opening a trained checkpoint with its backbone, and predicting on images of any size and aspect ratio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..backbones import DiffusionBackbone
from ..backbones.adapters import attach_trained_unet
from ..heads import PerceptionModel
from .checkpoint import INFO_FILE, load_unet_weights, unet_file
from .processing import Preds, preds_to_image, to_canvas
from .splits import EMBEDDED, open_backbone

# Where save_pretrained(include_backbone=True) puts the copy, relative to the checkpoint folder.
BACKBONE_DIR = "backbone"


def available_device() -> torch.device:
    """Where the commands that open a checkpoint (predict, evaluate, the report) run: the GPU when there is one.

    `Diff2in1Pipeline.from_pretrained` itself leaves the models on the CPU unless given a device, as diffusers'
    pipelines do; the commands must ask, or an SD-size model runs on the CPU beside an idle GPU.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def stored_backbone(folder: str | Path, info: dict[str, Any]) -> str:
    """The backbone a checkpoint names: its own copy (``backbone/``) when it has one, else the stored spec."""
    spec = info["backbone"]
    if spec.get("included"):
        return str(Path(folder) / spec["spec"])
    return str(spec["spec"])


def check_fingerprint(folder: str | Path, info: dict[str, Any], backbone: DiffusionBackbone, source: str) -> None:
    """Refuse a backbone whose weights or feature settings differ from the ones the head was trained on."""
    expected, found = info["backbone"]["fingerprint"], backbone.fingerprint()  # the pretrained weights
    if found != expected:
        raise ValueError(
            f"{Path(folder) / INFO_FILE}: the heads were trained on backbone {info['backbone']['spec']} "
            f"(fingerprint {expected}), but {source} has fingerprint {found}: other weights, feature layers "
            f"or perception timestep. Pass a copy of the backbone the heads were trained on."
        )


def open_trained_backbone(folder: str | Path, info: dict[str, Any], backbone: DiffusionBackbone | str | None = None,
                          device: torch.device | str | None = None,
                          dtype: torch.dtype | None = None) -> DiffusionBackbone:
    """The backbone of a checkpoint, checked by fingerprint; ``backbone`` overrides the stored location.

    Args:
        folder, info: the checkpoint folder and its perception.json.
        backbone: None (the stored reference), a folder / file / hub id / 'embedded' holding the same weights
            elsewhere, or a loaded backbone.
        device, dtype: where to put it; the fingerprint is checked before the dtype cast (a cast to half
            precision changes the weights' sums).

    Raises:
        ValueError: the backbone's fingerprint is not the one in perception.json (both are named).
    """
    spec = info["backbone"]
    if isinstance(backbone, DiffusionBackbone):
        source, opened = f"the given {type(backbone).__name__}", backbone
    else:
        source = str(backbone) if backbone is not None else stored_backbone(folder, info)
        kind = spec["kind"] if source != EMBEDDED else "auto"
        opened = open_backbone(source, kind, device, spec["perception_timestep"], spec.get("feature_taps", "decoder"))
    check_fingerprint(folder, info, opened, source)
    attach_checkpoint_unet(folder, info, opened)
    if device is not None or dtype is not None:
        opened = opened.to(device=device, dtype=dtype)
    return opened


def attach_checkpoint_unet(folder: str | Path, info: dict[str, Any], backbone: DiffusionBackbone) -> None:
    """Give ``backbone`` the checkpoint's trained UNet part with θE's weights, when its backbone trained.

    Raises:
        ValueError: the loaded weights' fingerprint is not the one perception.json records (both named).
    """
    settings = info["backbone"].get("trained")
    if not settings or backbone.trained is not None:
        return
    trained = attach_trained_unet(backbone, settings)
    trained.load_state_dict(load_unet_weights(folder, "model"), where=str(Path(folder) / unet_file("model")))
    expected, found = settings["fingerprint"], trained.fingerprint()
    if found != expected:
        raise ValueError(f"{Path(folder) / INFO_FILE}: the backbone's trained {settings['mode']} weights have "
                         f"fingerprint {expected} on base {settings['base_fingerprint']}, but "
                         f"{Path(folder) / unet_file('model')} loads as {found}: the weights file belongs to "
                         f"another checkpoint")


def _mirror_average(model: PerceptionModel, preds: Preds, batch: int) -> Preds:
    """Split a pass over [canvases, mirrored canvases] into its halves and merge them (flip ensemble)."""
    first = {t: {k: v[:batch] for k, v in p.items()} for t, p in preds.items()}
    mirrored = {t: {k: v[batch:] for k, v in p.items()} for t, p in preds.items()}
    return model.average_with_mirror(first, mirrored)


@torch.no_grad()
def predict_canvases(backbone: DiffusionBackbone, model: PerceptionModel, canvases: torch.Tensor,
                     captions: list[str] | None = None, ensemble: int = 1,
                     generator: torch.Generator | None = None) -> Preds:
    """Head outputs on Bx3xSxS canvases in [0, 1] (S = the backbone's sample size), one UNet pass.

    ``ensemble=2`` adds the mirrored canvases to the same pass and averages each prediction with its
    mirror's (normals' x flipped back); 1 = no ensemble.
    """
    if ensemble not in (1, 2):
        raise ValueError(f"ensemble must be 1 (no averaging) or 2 (flip averaging), got {ensemble}")
    batch = canvases.shape[0]
    inputs = canvases if ensemble == 1 else torch.cat([canvases, canvases.flip(-1)])
    text = list(captions) * ensemble if captions is not None and backbone.takes_text else None
    features = backbone.extract_features(inputs.to(backbone.device, backbone.dtype) * 2 - 1, captions=text,
                                         generator=generator)
    dtype = next(model.parameters()).dtype
    preds = model([f.to(dtype) for f in features], tuple(canvases.shape[-2:]))
    return preds if ensemble == 1 else _mirror_average(model, preds, batch)


@torch.no_grad()
def predict_image_list(backbone: DiffusionBackbone, model: PerceptionModel, images: list[torch.Tensor],
                       captions: list[str] | None = None, ensemble: int = 1, batch_size: int = 8,
                       generator: torch.Generator | None = None) -> list[Preds]:
    """Predict on 3xHxW images in [0, 1] of any sizes; returns one batch-1 prediction per image at its size.

    Each image is fitted to the model's square input keeping its aspect ratio (`processing.to_canvas`),
    ``batch_size`` canvases share a UNet pass, and each prediction is mapped back to its own image.
    """
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"got {len(captions)} captions for {len(images)} images; pass one per image")
    side = backbone.sample_size
    placed = [to_canvas(image.float(), side) for image in images]
    out: list[Preds] = []
    for start in range(0, len(placed), batch_size):
        chunk = placed[start:start + batch_size]
        canvases = torch.stack([canvas for canvas, _ in chunk])
        text = captions[start:start + batch_size] if captions is not None else None
        preds = predict_canvases(backbone, model, canvases, text, ensemble, generator)
        for row, (_, placement) in enumerate(chunk):
            one = {t: {k: v[row:row + 1] for k, v in p.items()} for t, p in preds.items()}
            out.append(preds_to_image(one, placement))
    return out
