"""What `Diff2in1Pipeline` returns: predictions (and created images) as arrays at each input image's size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers.utils import BaseOutput

from ..heads import PerceptionModel
from ..tasks import BINARY_TASKS, CLASS_TASKS, DEPTH, NORMAL
from .processing import Preds

Array = np.ndarray | torch.Tensor | list


@dataclass
class Diff2in1Output(BaseOutput):
    """Dense predictions of one image (no batch axis) or of a batch (a leading axis, or a list when the
    images differ in size). None for a task the heads were not trained for.

    Args:
        normal: HxWx3 float32 unit vectors in camera space (x right, y down, z forward).
        depth: HxW float32, metres.
        semseg: HxW int64 class index (``pipe.classes`` names them).
        edge: HxW float32 boundary probability in [0, 1].
        saliency: HxW float32 probability of a salient object in [0, 1].
        human_parts: HxW int64 part index (``diff2in1.tasks.HUMAN_PART_CLASSES``: 0 = background).
        confidence: {task: HxW float32}: the normal head's concentration κ (>= 0, higher = surer), the
            class heads' largest class probability in (0, 1], the probability heads' max(p, 1 - p);
            depth has none.

    With ``output_type="pt"`` the fields are tensors in the ground-truth layout, always batched: normal
    Bx3xHxW, depth, edge and saliency Bx1xHxW, semseg and human_parts BxHxW, confidence {task: BxHxW}.
    """

    normal: Array | None = None
    depth: Array | None = None
    semseg: Array | None = None
    edge: Array | None = None
    saliency: Array | None = None
    human_parts: Array | None = None
    confidence: dict[str, Array] | None = None


@dataclass
class Diff2in1CreationOutput(Diff2in1Output):
    """Created images and their labels (fields as in `Diff2in1Output`).

    Args:
        images: HxWx3 float32 in [0, 1] per created image (``output_type="pt"``: Bx3xHxW).
    """

    images: Array | None = None


def _labels(model: PerceptionModel, preds: Preds) -> dict[str, torch.Tensor]:
    labels = model.labels_from_preds(preds)
    confidence = {t: c for t, c in model.confidences(preds).items() if c is not None}
    return {**labels, **{f"confidence/{t}": c for t, c in confidence.items()}}


def _numpy(name: str, tensor: torch.Tensor) -> np.ndarray:
    """One image's tensor (batch 1, ground-truth layout) -> the HxW(x3) array of the numpy output."""
    value = tensor[0].detach().cpu()
    if name in (NORMAL, "images"):
        return value.permute(1, 2, 0).float().numpy()
    if name == DEPTH or name in BINARY_TASKS:
        return value[0].float().numpy()
    if name in CLASS_TASKS:
        return value.long().numpy()
    return value.float().numpy()


def _gather(name: str, values: list[torch.Tensor], batched: bool, output_type: str) -> Array:
    """Per-image tensors -> one batched tensor ("pt"), one array (a single image) or a stack / list ("np")."""
    if output_type == "pt":
        same = all(v.shape == values[0].shape for v in values)
        return torch.cat(values) if same else values
    arrays = [_numpy(name, v) for v in values]
    if not batched:
        return arrays[0]
    same = all(a.shape == arrays[0].shape for a in arrays)
    return np.stack(arrays) if same else arrays


def make_output(model: PerceptionModel, rows: list[Preds], batched: bool, output_type: str = "np",
                images: list[torch.Tensor] | None = None) -> Diff2in1Output:
    """Pack per-image predictions (batch 1 each, at the image's size) into the pipeline's output.

    ``images``: the created images (1x3xHxW each) for `Diff2in1CreationOutput`; None for predictions.
    """
    if output_type not in ("np", "pt"):
        raise ValueError(f"output_type must be 'np' (numpy arrays) or 'pt' (torch tensors), got {output_type!r}")
    per_image = [_labels(model, preds) for preds in rows]
    for labels, image in zip(per_image, images or []):
        labels["images"] = image
    fields: dict = {}
    for name in per_image[0]:
        values = [labels[name] for labels in per_image]
        if name.startswith("confidence/"):
            task = name.split("/", 1)[1]
            fields.setdefault("confidence", {})[task] = _gather("confidence", values, batched, output_type)
        else:
            fields[name] = _gather(name, values, batched, output_type)
    return (Diff2in1CreationOutput if images is not None else Diff2in1Output)(**fields)
