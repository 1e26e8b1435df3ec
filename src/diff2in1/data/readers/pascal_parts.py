"""PASCAL-Part person annotations (``human_parts/<id>.mat`` of PASCAL_MT) as the 7 part classes.

Each file holds ``anno.objects``: per object its ``class`` (or VOC ``classIndex``, 15 = person), ``mask``
and ``parts`` (each a ``part_name`` and a ``mask``). The fine part names are grouped as the multi-task
works group them (``diff2in1.tasks.HUMAN_PART_CLASSES``); pixels of a person that no part covers, and
everything that is not a person, are background (0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PERSON_INDEX = 15
PART_GROUPS = {
    1: ("hair", "head", "lear", "lebrow", "leye", "mouth", "nose", "rear", "rebrow", "reye"),
    2: ("neck", "torso"),
    3: ("luarm", "ruarm"),
    4: ("llarm", "rlarm", "lhand", "rhand"),
    5: ("luleg", "ruleg"),
    6: ("llleg", "rlleg", "lfoot", "rfoot"),
}
PART_CLASS = {name: group for group, names in PART_GROUPS.items() for name in names}


def _is_person(obj) -> bool:
    name = str(getattr(obj, "class", ""))
    return name == "person" or int(np.asarray(getattr(obj, "classIndex", -1)).ravel()[0]) == PERSON_INDEX


def _read_anno(path: Path):
    import scipy.io

    try:
        content = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except (ValueError, NotImplementedError, OSError) as err:
        raise ValueError(f"{path}: not a readable MATLAB file ({err})") from err
    if "anno" not in content or not hasattr(content["anno"], "objects"):
        fields = sorted(k for k in content if not k.startswith("__"))
        raise ValueError(f"{path}: no 'anno.objects' (fields found: {fields}); expected a PASCAL-Part annotation")
    return content["anno"]


def read_human_parts(path: Path, size: tuple[int, int]) -> np.ndarray:
    """HxW int64 part labels 0..6 of one image; a missing file means no person (all background)."""
    labels = np.zeros(size, dtype=np.int64)
    if not path.is_file():
        return labels
    for obj in np.atleast_1d(_read_anno(path).objects):
        if not _is_person(obj):
            continue
        for part in np.atleast_1d(getattr(obj, "parts", [])):
            name = str(getattr(part, "part_name", ""))
            if name not in PART_CLASS:
                raise ValueError(f"{path}: unknown person part '{name}'; expected one of {sorted(PART_CLASS)}")
            mask = np.asarray(part.mask).astype(bool)
            if mask.shape != tuple(size):
                raise ValueError(f"{path}: part mask size {mask.shape} does not match its image {tuple(size)}")
            labels[mask] = PART_CLASS[name]
    return labels
