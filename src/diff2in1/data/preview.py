"""`diff2in1 data preview`: a picture of samples with their labels (image | depth | normals | classes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..config import option
from ..heads.pictures import depth_to_rgb, normal_to_rgb, semseg_to_rgb
from .dataset import LayoutDataset


@dataclass
class PreviewConfig:
    data: str = option("data/rooms", "data set folder in the project layout")
    out: str = option("docs/rooms_samples.png", "PNG to write")
    split: str = option("train", "split to show")
    num: int = option(8, "number of samples (one row each)")
    scale: int = option(2, "integer upscaling of each tile")


def _caption_strip(text: str, width: int) -> np.ndarray:
    strip = Image.new("RGB", (width, 14), (255, 255, 255))
    ImageDraw.Draw(strip).text((3, 1), text, fill=(0, 0, 0))
    return np.asarray(strip)


def write_preview(config: PreviewConfig) -> Path:
    dataset = LayoutDataset(config.data, config.split)
    rows = []
    for index in range(min(config.num, len(dataset))):
        item = dataset[index]
        tiles = [(item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)]
        if "depth" in item:
            tiles.append(depth_to_rgb(item["depth"][0].numpy(), mask=item["mask"]["depth"].numpy()))
        if "normal" in item:
            tiles.append(normal_to_rgb(item["normal"].numpy()))
        if "semseg" in item:
            tiles.append(semseg_to_rgb(item["semseg"].numpy(), dataset.num_classes))
        row = np.concatenate([np.kron(t, np.ones((config.scale, config.scale, 1), dtype=np.uint8)) for t in tiles], 1)
        rows.append(np.concatenate([row, _caption_strip(item["caption"], row.shape[1])], axis=0))
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(out)
    return out
