"""What warm-up, improve, evaluate and predict share: the backbone, the data splits and the batch loop."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset, Subset

from ..backbones import DiffusionBackbone, load_backbone, load_embedded_backbone, tap_layers
from ..data import open_dataset
from ..data.readers.resize import resize_sample

EMBEDDED = "embedded"


def open_backbone(spec: str, kind: str = "auto", device: torch.device | str | None = None,
                  timestep: int = 0, taps: str = "decoder") -> DiffusionBackbone:
    """``spec``: 'embedded' (the shipped rooms model), a local diffusers folder, a hub id or a single file;
    ``taps``: which UNet blocks give the features (``backbones.tap_layers``)."""
    if spec == EMBEDDED:
        backbone = load_embedded_backbone(device=device, perception_timestep=timestep)
    else:
        backbone = load_backbone(kind, spec, device=device, perception_timestep=timestep)
    if taps != "decoder":
        backbone.feature_layers = tap_layers(backbone.unet, taps)
    return backbone


def backbone_info(spec: str, kind: str, backbone: DiffusionBackbone, taps: str = "decoder") -> dict[str, Any]:
    return {"spec": spec, "kind": kind, "fingerprint": backbone.fingerprint(), "feature_taps": taps,
            "perception_timestep": backbone.perception_timestep, "sample_size": backbone.sample_size}


class Resized(Dataset):
    """Items resized (shorter side, then centre crop) to the backbone's input size when they differ."""

    def __init__(self, dataset: Dataset, size: int):
        self.dataset, self.size = dataset, size

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.dataset[index]
        if tuple(item["image"].shape[-2:]) != (self.size, self.size):
            item = resize_sample(item, self.size)
        return item


def labelled_subsets(dataset: Dataset, num_labelled: int, val_fraction: float, seed: int) -> tuple[Subset, Subset | None]:
    """A fixed random choice of ``num_labelled`` training images (0 = all), minus a validation part.

    The permutation depends only on the seed, so a run with 100 labels uses a subset of the one with 800.
    """
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()
    if num_labelled:
        if num_labelled > len(dataset):
            raise ValueError(f"num_labelled={num_labelled} exceeds the {len(dataset)} training images")
        order = order[:num_labelled]
    num_val = int(round(len(order) * val_fraction))
    train = Subset(dataset, order[num_val:])
    return train, (Subset(dataset, order[:num_val]) if num_val else None)


def unlabelled_subset(dataset: Dataset, num_labelled: int, seed: int, limit: int = 250) -> Subset:
    """Up to ``limit`` training images outside the labelled subset of ``labelled_subsets`` (same seed).

    In a limited-label benchmark on a fully labelled set, these give a validation split carved from
    train that leaves the labelled images (and so the training data) untouched: tune on it, not on test.
    """
    if not num_labelled or num_labelled >= len(dataset):
        raise ValueError(f"eval split 'unlabelled' needs --num-labelled below the {len(dataset)} training images "
                         f"(got {num_labelled}); use --eval-split val with --val-fraction otherwise")
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()
    return Subset(dataset, order[num_labelled : num_labelled + limit])


def open_split(name: str, root: str, split: str, tasks: list[str] | None, size: int) -> Dataset:
    dataset = open_dataset(name, root, split, tasks=tasks)
    wrapped = Resized(dataset, size)
    for attr in ("tasks", "classes", "num_classes"):
        setattr(wrapped, attr, getattr(dataset, attr, None))
    return wrapped


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    return torch.utils.data.default_collate(items)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    out = {}
    for key, value in batch.items():
        if torch.is_tensor(value):
            out[key] = value.to(device, non_blocking=True)
        elif isinstance(value, dict):
            out[key] = {k: v.to(device, non_blocking=True) for k, v in value.items()}
        else:
            out[key] = value
    return out


def features_of(backbone: DiffusionBackbone, batch: dict[str, Any], use_captions: bool = True,
                generator: torch.Generator | None = None, grad: bool = False) -> list[torch.Tensor]:
    """One UNet pass on images in [0, 1] (scaled to [-1, 1]); captions where the backbone takes text.
    ``grad``: gradients reach the UNet's trained weights (a run that trains the backbone)."""
    captions = list(batch["caption"]) if use_captions and backbone.takes_text and "caption" in batch else None
    extract = backbone.perception_features if grad else backbone.extract_features
    return extract(batch["image"] * 2 - 1, captions=captions, generator=generator)
