"""`diff2in1 data preview`: one tile per modality, captions wrapped to the panel, samples in columns."""

from __future__ import annotations

import numpy as np
from PIL import Image

from diff2in1.cli.main import main
from diff2in1.data.preview import GAP, PreviewConfig, write_preview
from diff2in1.data.rooms import RoomsConfig, generate_rooms


def preview(data, out, *options: str) -> np.ndarray:
    assert main(["data", "preview", "--data", str(data), "--out", str(out), "--num", "4", *options]) == 0
    return np.asarray(Image.open(out))


def test_preview_layout_and_long_captions(tmp_path):
    data = tmp_path / "rooms"
    generate_rooms(RoomsConfig(out=str(data), num=4, size=16, seed=0, test_fraction=0.0), progress=False)
    assert preview(data, tmp_path / "one.png", "--scale", "2").shape[1] == 4 * 16 * 2  # image|depth|normals|classes
    two = preview(data, tmp_path / "two.png", "--scale", "2", "--columns", "2")
    assert two.shape[1] == 2 * 4 * 16 * 2 + GAP
    (data / "train" / "caption" / "000003.txt").write_text("a room with " + "a red box, " * 30 + "and a blue sphere\n")
    long = preview(data, tmp_path / "long.png", "--scale", "2", "--columns", "2")
    # The long caption wraps onto more lines (14 pixels each) instead of being cut at the panel's edge.
    assert long.shape[1] == two.shape[1] and long.shape[0] >= two.shape[0] + 10 * 14


def test_preview_writes_samples_in_reading_order(tmp_path):
    data = tmp_path / "rooms"
    generate_rooms(RoomsConfig(out=str(data), num=3, size=16, seed=0, test_fraction=0.0), progress=False)
    path = write_preview(PreviewConfig(data=str(data), out=str(tmp_path / "p.png"), num=3, scale=1, columns=2))
    picture = np.asarray(Image.open(path))
    first_image = np.asarray(Image.open(data / "train" / "image" / "000000.png"))
    second_image = np.asarray(Image.open(data / "train" / "image" / "000001.png"))
    # Sample 0 at the left of the first row (below the column titles), sample 1 beside it.
    rows = np.flatnonzero([(picture[y : y + 16, :16] == first_image).all() for y in range(picture.shape[0] - 15)])
    assert len(rows) == 1 and rows[0] > 0
    assert (picture[rows[0] : rows[0] + 16, 4 * 16 + GAP : 4 * 16 + GAP + 16] == second_image).all()
