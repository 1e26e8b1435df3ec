"""`Diff2in1Pipeline`: a trained checkpoint as one object that predicts on images and creates labelled ones.

The folder it loads is the one training writes (``model.safetensors`` = θE, ``theta_c.safetensors`` = θC,
``perception.json`` = the heads' config, tasks, classes and the backbone's reference and fingerprint), and
`save_pretrained` writes the same layout, optionally with a copy of the backbone in ``backbone/``. A
checkpoint whose backbone trained (``--train-backbone lora|full``) also holds each head's UNet weights
(``model_unet.safetensors``, ``theta_c_unet.safetensors``): the pipeline attaches them to the pretrained
backbone, predicts with the chosen head's, and creates with the untouched generator (``ddim.py``).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..backbones import DiffusionBackbone, embedded_backbone_path
from ..heads import PerceptionModel
from .checkpoint import (
    LEGACY_THETA_C,
    has_theta_c,
    load_perception,
    load_unet_weights,
    read_perception_info,
    save_perception,
)
from .ddim import Generator, create_batch
from .inference import BACKBONE_DIR, open_trained_backbone, predict_image_list, stored_backbone
from .output import Diff2in1CreationOutput, Diff2in1Output, make_output
from .processing import ImageInput, as_image_list, canvas_to_image, preds_to_image, to_canvas
from .splits import EMBEDDED

THETA_E, THETA_C = "theta_e", "theta_c"
# The checkpoint files' names for the two heads (load_perception's ``which``), and the aliases accepted.
_CHECKPOINT_NAME = {THETA_E: "model", THETA_C: THETA_C}
_ALIASES = {THETA_E: THETA_E, THETA_C: THETA_C, "model": THETA_E, LEGACY_THETA_C: THETA_C}


def head_name(which: str) -> str:
    """'theta_e' / 'model' -> 'theta_e' (θE, exploitation); 'theta_c' -> 'theta_c' (θC, EMA).

    θC's older name ('creation') is still accepted."""
    if which not in _ALIASES:
        raise ValueError(f"which must be one of {sorted(_ALIASES)} (θE: theta_e or model, θC: theta_c), "
                         f"got {which!r}")
    return _ALIASES[which]


class Diff2in1Pipeline:
    """A frozen diffusion backbone and the trained heads on its features: predict, and create labelled images.

    Args:
        backbone: the frozen diffusion model whose features the heads read.
        heads: {"theta_e": θE} and optionally "theta_c": θC (θC falls back to θE when absent).
        info: the checkpoint description (perception.json: tasks, classes, backbone spec and fingerprint).
        which: the head that `__call__` and `create` use.
        backbone_source: where the backbone was opened from (a folder, a file, 'embedded', a hub id), which
            `save_pretrained` records as the reference; None = the one in ``info``.
    """

    def __init__(self, backbone: DiffusionBackbone, heads: dict[str, PerceptionModel], info: dict[str, Any],
                 which: str = THETA_E, backbone_source: str | None = None,
                 unet_weights: dict[str, dict[str, torch.Tensor]] | None = None) -> None:
        if THETA_E not in heads:
            raise ValueError(f"Diff2in1Pipeline needs a 'theta_e' head, got {sorted(heads)}")
        self.backbone = backbone
        self.heads = {name: head.to(backbone.device).eval() for name, head in heads.items()}
        self.info = info
        self.which = head_name(which)
        self.backbone_source = backbone_source or str(info["backbone"]["spec"])
        self.unet_weights = unet_weights or {}  # each head's trained UNet weights, when the backbone trained

    @classmethod
    def from_pretrained(cls, folder: str | Path, backbone: DiffusionBackbone | str | Path | None = None,
                        which: str = THETA_E, device: torch.device | str | None = None,
                        dtype: torch.dtype | None = None) -> Diff2in1Pipeline:
        """Open a checkpoint folder (a run's ``checkpoint/`` or a `save_pretrained` folder).

        Args:
            folder: holds perception.json and model.safetensors (and theta_c.safetensors after improve).
            backbone: None = the checkpoint's own copy or stored reference; else another location of the same
                weights (a folder, a single file, 'embedded') or a loaded backbone.
            which: the head to predict and create with: "theta_e" (θE) or "theta_c" (θC).
            device, dtype: where the models go; dtype applies to the backbone (the heads stay float32).

        Raises:
            FileNotFoundError: the folder has no perception.json.
            ValueError: the backbone's fingerprint differs from the checkpoint's (both named).
        """
        info = read_perception_info(folder)
        heads = {THETA_E: load_perception(folder, which="model")[0]}
        if has_theta_c(info):
            heads[THETA_C] = load_perception(folder, which=THETA_C)[0]
        opened = open_trained_backbone(folder, info, backbone, device, dtype)
        source = None if isinstance(backbone, DiffusionBackbone) else str(backbone or stored_backbone(folder, info))
        unet = {name: load_unet_weights(folder, _CHECKPOINT_NAME[name]) for name in heads} if opened.trained else None
        return cls(opened, heads, info, which, source, unet)

    # ----------------------------------------------------------------- description

    @property
    def head(self) -> PerceptionModel:
        """The head `__call__` and `create` use (θC falls back to θE in a warm-up checkpoint)."""
        return self.heads.get(self.which, self.heads[THETA_E])

    @property
    def tasks(self) -> list[str]:
        return list(self.heads[THETA_E].tasks)

    @property
    def classes(self) -> list[str]:
        """Segmentation class names, index = label value (empty without a semseg head)."""
        return list(self.info.get("classes") or [])

    @property
    def device(self) -> torch.device:
        return self.backbone.device

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Diff2in1Pipeline:
        """Move the backbone (and cast it to ``dtype``) and the heads (kept float32)."""
        self.backbone.to(device=device, dtype=dtype)
        for head in self.heads.values():
            head.to(device=self.backbone.device)
        return self

    # ----------------------------------------------------------------- saving

    def save_pretrained(self, folder: str | Path, include_backbone: bool = False) -> Path:
        """Write the heads, their config and the backbone's reference and fingerprint to ``folder``.

        With ``include_backbone`` the backbone's files are copied to ``folder/backbone/`` and the reference
        points there, so the folder loads on a machine without the original; without it the reference is
        the backbone's absolute location (or 'embedded' / a hub id), and `from_pretrained(..., backbone=...)`
        can point at another copy of the same weights.
        """
        folder = Path(folder)
        spec = {**self.info["backbone"], "spec": self._reference(), "included": False}
        if include_backbone:
            spec.update(spec=_copy_backbone(self._source_path(), folder / BACKBONE_DIR), included=True)
        info = {k: v for k, v in self.info.items() if k != "model"}  # save_perception sets has_theta_c
        unet = {_CHECKPOINT_NAME[name]: weights for name, weights in self.unet_weights.items()} or None
        save_perception(folder, self.heads[THETA_E], {**info, "backbone": spec}, theta_c=self.heads.get(THETA_C),
                        unet=unet)
        return folder

    def unet_of(self, which: str | None = None) -> contextlib.AbstractContextManager:
        """For the block, the UNet weights trained with head ``which`` (default: the one in use); nothing to
        do when the backbone did not train."""
        name = head_name(which) if which else self.which
        weights = self.unet_weights.get(name) or self.unet_weights.get(THETA_E)
        if self.backbone.trained is None or weights is None:
            return contextlib.nullcontext()
        return self.backbone.trained.weights(weights)

    def _reference(self) -> str:
        source = self.backbone_source
        return str(Path(source).resolve()) if source != EMBEDDED and Path(source).exists() else source

    def _source_path(self) -> Path:
        source = self.backbone_source
        if source == EMBEDDED:
            return embedded_backbone_path()
        if not Path(source).exists():
            raise ValueError(f"cannot copy the backbone {source!r}: it is not a local folder or file "
                             "(a hub id?); download it and open the pipeline with backbone=FOLDER first")
        return Path(source)

    # ----------------------------------------------------------------- perception

    def __call__(self, images: ImageInput | Sequence[ImageInput], captions: list[str] | None = None,
                 ensemble: int = 1, batch_size: int = 8, generator: torch.Generator | None = None,
                 output_type: str = "np") -> Diff2in1Output:
        """Predict every task on images of any size and aspect ratio.

        Args:
            images: one image (PIL, HxWx3 array, 3xHxW tensor in [0, 1]) or a batch (a list of them, a
                BxHxWx3 array, a Bx3xHxW tensor); sizes may differ within a list.
            captions: one per image, for text-conditioned backbones (None = the empty prompt).
            ensemble: 2 = average with the prediction on the mirrored image (flip ensemble); 1 = none.
            batch_size: images per UNet pass.
            generator: seeds the small perception noise; None = seed 0, so a prediction is repeatable.
            output_type: "np" (arrays, see `Diff2in1Output`) or "pt" (tensors on the pipeline's device).

        Returns:
            `Diff2in1Output` at each input's own size (one image: no batch axis).
        """
        tensors, batched = as_image_list(images)
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        with self.unet_of():
            rows = predict_image_list(self.backbone, self.head, tensors, captions, ensemble, batch_size, generator)
        return make_output(self.head, rows, batched, output_type)

    # ----------------------------------------------------------------- creation

    def create(self, images: ImageInput | Sequence[ImageInput], captions: list[str] | None = None,
               t_star: int = 600, steps: int = 50, eta: float = 0.0, guidance_scale: float = 1.0,
               generator: Generator = None, batch_size: int = 8, output_type: str = "np") -> Diff2in1CreationOutput:
        """Create images resembling ``images`` and their labels in one DDIM pass each (paper, section 2).

        Each image is noised to t*, denoised with ``steps``-step DDIM and labelled from the last step's
        features by the pipeline's head (`head`); results are mapped back to each input's size.

        Args:
            images, captions: as in `__call__` (captions condition the denoising of text backbones).
            t_star: noise timestep in training steps (the release: 600 of 1000).
            steps: length of the full DDIM schedule (about steps * t* / 1000 of them run).
            eta, guidance_scale: DDIM stochasticity and classifier-free guidance (0 and 1 in the release).
            generator: one, or one per image (each image's noise then depends on its own only).
            output_type: "np" or "pt", as in `__call__`.
        """
        tensors, batched = as_image_list(images)
        if isinstance(generator, list) and len(generator) != len(tensors):
            raise ValueError(f"got {len(generator)} generators for {len(tensors)} images; pass one or one per image")
        created, rows = [], []
        for start in range(0, len(tensors), batch_size):
            stop = start + batch_size
            gen = generator[start:stop] if isinstance(generator, list) else generator
            text = captions[start:stop] if captions is not None else None
            images_i, rows_i = self._create_chunk(tensors[start:stop], text, t_star, steps, eta, guidance_scale, gen)
            created += images_i
            rows += rows_i
        return make_output(self.head, rows, batched, output_type, images=created)

    def _create_chunk(self, tensors: list[torch.Tensor], captions: list[str] | None, t_star: int, steps: int,
                      eta: float, guidance_scale: float, generator: Generator) -> tuple[list, list]:
        placed = [to_canvas(image, self.backbone.sample_size) for image in tensors]
        canvases = torch.stack([canvas for canvas, _ in placed])
        with self.unet_of():
            out, preds = create_batch(self.backbone, self.head, canvases, captions, t_star, steps, eta,
                                      guidance_scale, generator)
        images, rows = [], []
        for row, (_, placement) in enumerate(placed):
            images.append(canvas_to_image(out[row:row + 1], placement))
            rows.append(preds_to_image({t: {k: v[row:row + 1] for k, v in p.items()} for t, p in preds.items()},
                                       placement))
        return images, rows


def _copy_backbone(source: Path, target: Path) -> str:
    """Copy a backbone folder (or single file) to ``target`` via a temporary name; returns the spec to store."""
    temporary = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, temporary)
    else:
        temporary.mkdir(parents=True)
        shutil.copy2(source, temporary / source.name)
    shutil.rmtree(target, ignore_errors=True)
    temporary.rename(target)
    return BACKBONE_DIR if source.is_dir() else f"{BACKBONE_DIR}/{source.name}"
