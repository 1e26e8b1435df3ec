"""Rooms' boundary and saliency labels: where they come from, and that they leave the other labels alone."""

from __future__ import annotations

import hashlib

import numpy as np

from diff2in1.data.dataset import LayoutDataset
from diff2in1.data.rooms import RoomsConfig, generate_rooms
from diff2in1.data.rooms.generate import render_index
from diff2in1.data.rooms.labels import boundaries, saliency
from diff2in1.data.rooms.scene import BOX, FLOOR, WALL

# sha256 of image, depth, normal and semseg of rooms 0-2 (size 24, seed 7), as rendered before the rooms had
# boundaries and saliency: adding those labels must not change any earlier one.
EARLIER_LABELS = "86bd0090f0a8e11776d00711d50866be1927bdf8741e9540696eef8fa2e85674"


def test_adding_boundaries_and_saliency_leaves_the_earlier_labels_unchanged():
    digest = hashlib.sha256()
    for index in range(3):
        out = render_index(index, RoomsConfig(size=24, seed=7))
        for key in ("image", "depth", "normal", "semseg"):
            digest.update(out[key].tobytes())
    assert digest.hexdigest() == EARLIER_LABELS


def test_boundaries_mark_class_changes_depth_jumps_and_creases():
    flat = np.zeros((6, 6, 3), dtype=np.float32)
    flat[..., 2] = -1.0
    depth = np.full((6, 6), 3.0, dtype=np.float32)
    semseg = np.full((6, 6), FLOOR)
    owner = np.full((6, 6), -1)
    assert not boundaries(semseg, owner, depth, flat).any()
    classes = semseg.copy()
    classes[:, 3:] = WALL  # a class change between columns 2 and 3 marks column 2
    assert np.array_equal(np.nonzero(boundaries(classes, owner, depth, flat).any(axis=0))[0], [2])
    two_boxes = np.full((6, 6), BOX)
    same_class = owner.copy()
    same_class[:, :3], same_class[:, 3:] = 0, 1  # two objects of one class still meet at a boundary
    assert boundaries(two_boxes, same_class, depth, flat)[:, 2].all()
    jump = depth.copy()
    jump[3:] = 4.0  # 1 m behind 3 m: more than 25 % of the nearer depth
    assert boundaries(semseg, owner, jump, flat)[2].all() and not boundaries(semseg, owner, jump, flat)[3:].any()
    corner = flat.copy()
    corner[:, 3:] = (1.0, 0.0, 0.0)  # 90 degrees apart
    assert boundaries(semseg, owner, depth, corner)[:, 2].all()
    assert np.array_equal(saliency(same_class), np.ones((6, 6)))


def test_rendered_rooms_have_thin_boundaries_and_objects_as_saliency(tmp_path):
    out = render_index(0, RoomsConfig(size=32, seed=1))
    objects = np.isin(out["semseg"], [BOX, 4, 5])
    assert np.array_equal(out["saliency"] > 0, objects)
    assert 0.01 < out["edge"].mean() < 0.3
    generate_rooms(RoomsConfig(out=str(tmp_path), num=3, size=32, seed=1, test_fraction=0.0), progress=False)
    item = LayoutDataset(tmp_path, "train", tasks=["edge", "saliency"])[0]
    assert np.array_equal(item["edge"][0].numpy(), out["edge"]) and np.array_equal(item["saliency"][0].numpy(), out["saliency"])
