"""Feature taps: the decoder blocks (default) or the release's every down block, middle block and up block.
The warm-up records its taps; improve and the pipeline open the backbone with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diff2in1.backbones import tap_layers
from diff2in1.fileio import read_json
from diff2in1.perception.splits import open_backbone


@pytest.fixture(scope="module")
def runs(tiny_pixel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from diff2in1.data.rooms import RoomsConfig, generate_rooms
    from diff2in1.training.warmup import WarmupConfig, train_warmup

    root = tmp_path_factory.mktemp("taps")
    rooms = generate_rooms(RoomsConfig(out=str(root / "rooms"), num=6, size=16), progress=False)
    common = dict(backbone=str(tiny_pixel_path), data=str(rooms), steps=2, batch_size=2, channels=8, progress=False)
    out = {"rooms": rooms, "backbone": tiny_pixel_path, "root": root}
    for taps in ("decoder", "release"):
        out[taps] = train_warmup(WarmupConfig(out=str(root / taps), feature_taps=taps, **common)) / "checkpoint"
    return out


def test_release_taps_add_every_down_block_and_the_middle_one(tiny_pixel_path):
    backbone = open_backbone(str(tiny_pixel_path), taps="release")
    decoder = tap_layers(backbone.unet, "decoder")
    assert backbone.feature_layers == [f"down_blocks.{i}" for i in range(len(backbone.unet.down_blocks))] + \
        ["mid_block"] + decoder
    assert len(backbone.feature_channels) == len(backbone.feature_layers)
    assert backbone.fingerprint() != open_backbone(str(tiny_pixel_path)).fingerprint()  # caches never mix them
    with pytest.raises(ValueError, match="choose from"):
        tap_layers(backbone.unet, "encoder")


def test_the_warmup_records_its_taps_and_improve_takes_them(runs):
    from diff2in1.self_improving.improve import ImproveConfig, train_improve

    assert read_json(runs["release"] / "perception.json")["backbone"]["feature_taps"] == "release"
    config = ImproveConfig(backbone=str(runs["backbone"]), data=str(runs["rooms"]), warmup=str(runs["release"]),
                           synthetic=str(runs["rooms"]), out=str(runs["root"] / "improve"), steps=2, batch_size=2,
                           pseudo_batch_size=2, views=2, progress=False, lr_warmup=0)
    out = train_improve(config)  # --feature-taps left at its default: the warm-up's are used
    assert read_json(out / "checkpoint" / "perception.json")["backbone"]["feature_taps"] == "release"
    with pytest.raises(ValueError, match="'decoder' feature taps"):
        train_improve(ImproveConfig(**{**config.__dict__, "warmup": str(runs["decoder"]), "feature_taps": "release",
                                       "out": str(runs["root"] / "mismatch")}))


def test_the_pipeline_opens_the_backbone_with_the_checkpoints_taps(runs):
    from diff2in1.perception.pipeline import Diff2in1Pipeline

    pipe = Diff2in1Pipeline.from_pretrained(runs["release"], backbone=str(runs["backbone"]))
    assert pipe.backbone.feature_layers[-1] == tap_layers(pipe.backbone.unet, "decoder")[-1]
    assert "mid_block" in pipe.backbone.feature_layers
    out = pipe(np.zeros((20, 24, 3), dtype=np.uint8))
    assert out.normal.shape == (20, 24, 3)  # at the input size
