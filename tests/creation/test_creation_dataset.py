"""`create_dataset` / `diff2in1 create`: a synthetic set in the project layout, resumable and deterministic."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diff2in1.cli.create import register
from diff2in1.config import config_from_args
from diff2in1.creation import CreateConfig, create_dataset, is_complete, provenance_path
from diff2in1.creation.create import resolve_t_star
from diff2in1.data.dataset import LayoutDataset
from diff2in1.data.layout import list_ids, read_meta, sample_path
from diff2in1.fileio import sha256_file


def _config(warmup_run: dict[str, Path], out: Path, **overrides) -> CreateConfig:
    values = {"checkpoint": str(warmup_run["checkpoint"]), "data": str(warmup_run["rooms"]), "out": str(out),
              "steps": 5, "batch_size": 2, "progress": False, **overrides}
    return CreateConfig(**values)


@pytest.fixture(scope="module")
def created(warmup_run: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 of the 5 labelled rooms (num_labelled 4, limit 3), 2 created images each."""
    out = tmp_path_factory.mktemp("created") / "set"
    return create_dataset(_config(warmup_run, out, per_image=2, num_labelled=4, limit=3))


def test_writes_the_layout_with_meta_and_provenance(created: Path, warmup_run: dict[str, Path]) -> None:
    from diff2in1.perception.splits import labelled_subsets, open_split

    ids = list_ids(created, "train")
    rooms = open_split("rooms", str(warmup_run["rooms"]), "train", None, 16)
    chosen = labelled_subsets(rooms, 4, 0.0, 0)[0].indices[:3]
    sources = [rooms.dataset.ids[i] for i in chosen]
    assert ids == sorted(f"{s}_c{k}" for s in sources for k in range(2))
    meta = read_meta(created)
    assert meta["synthetic"] is True and meta["tasks"] == ["normal", "depth", "semseg", "edge", "saliency"]
    assert meta["image_size"] == [16, 16] and meta["classes"] == read_meta(warmup_run["rooms"])["classes"]
    provenance = meta["provenance"]
    assert provenance["checkpoint_sha256"] == sha256_file(warmup_run["checkpoint"] / "model.safetensors")
    assert provenance["t_star"] == 600 and provenance["steps"] == 5 and provenance["eta"] == 0.0
    assert provenance["source"]["data"] == str(warmup_run["rooms"]) and provenance["backbone"]["fingerprint"]
    sample = json.loads(provenance_path(created, ids[0]).read_text())
    assert sample["source_id"] == ids[0].rsplit("_c", 1)[0] and sample["t_star"] == 600 and "seed" in sample
    source_caption = sample_path(warmup_run["rooms"], "train", "caption", sample["source_id"]).read_text()
    assert sample_path(created, "train", "caption", ids[0]).read_text() == source_caption
    assert not (created / ".staging").exists()


def test_layout_dataset_reads_the_created_samples(created: Path) -> None:
    dataset = LayoutDataset(created, "train")
    item = dataset[0]
    assert item["image"].shape == (3, 16, 16)
    assert item["normal"].shape == (3, 16, 16) and item["mask"]["normal"].all()
    assert item["depth"].shape == (1, 16, 16) and item["semseg"].shape == (16, 16)
    assert item["kappa"].shape == (1, 16, 16) and (item["kappa"] >= 0).all()
    assert item["caption"]


def test_rerun_skips_complete_samples_and_writes_missing_ones(created: Path, warmup_run) -> None:
    ids = list_ids(created, "train")
    image = sample_path(created, "train", "image", ids[1])
    before = {i: sample_path(created, "train", "image", i).stat().st_mtime_ns for i in ids}
    pixels = np.asarray(Image.open(image)).copy()
    for modality in ("image", "depth"):
        sample_path(created, "train", modality, ids[1]).unlink()
    assert not is_complete(created, ids[1])
    create_dataset(_config(warmup_run, created, per_image=2, num_labelled=4, limit=3))
    after = {i: sample_path(created, "train", "image", i).stat().st_mtime_ns for i in ids}
    assert all(after[i] == before[i] for i in ids if i != ids[1])
    assert is_complete(created, ids[1]) and sample_path(created, "train", "depth", ids[1]).is_file()
    rewritten = np.asarray(Image.open(image))
    assert np.abs(rewritten.astype(int) - pixels.astype(int)).max() <= 1  # the same sample again


def test_refuses_to_mix_settings_in_one_folder(created: Path, warmup_run) -> None:
    with pytest.raises(ValueError, match="t_star"):
        create_dataset(_config(warmup_run, created, t_star=300, limit=1))


def test_cli_options_map_onto_the_config(warmup_run, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["create", "--checkpoint", str(warmup_run["checkpoint"]), "--strength", "0.3",
                              "--per-image", "2", "--progress", "false", "--out", str(tmp_path)])
    config = config_from_args(CreateConfig, args)
    assert config.strength == 0.3 and config.per_image == 2 and config.progress is False
    assert args.func is not None
    assert resolve_t_star(config, 1000) == 300  # --strength wins over the default --t-star
