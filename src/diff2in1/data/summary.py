"""A short text summary of a data set in the project layout."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .codecs import open_png
from .layout import list_ids, read_meta, sample_path


def summarise(root: str | Path, max_label_files: int = 200) -> dict:
    """Counts per split, class pixel frequencies and depth range over up to ``max_label_files`` samples."""
    meta = read_meta(root)
    summary = {"root": str(root), "tasks": meta["tasks"], "image_size": meta["image_size"], "splits": {}}
    class_pixels: Counter = Counter()
    depths: list[float] = []
    for split in ("train", "test"):
        try:
            ids = list_ids(root, split)
        except FileNotFoundError:
            continue
        summary["splits"][split] = len(ids)
        for sample_id in ids[:max_label_files]:
            if "semseg" in meta["tasks"]:
                values, counts = np.unique(open_png(sample_path(root, split, "semseg", sample_id)), return_counts=True)
                class_pixels.update(dict(zip(values.tolist(), counts.tolist())))
            if "depth" in meta["tasks"]:
                mm = open_png(sample_path(root, split, "depth", sample_id))
                depths += [float(mm[mm > 0].min()) / 1000, float(mm.max()) / 1000] if (mm > 0).any() else []
    total = sum(class_pixels.values()) or 1
    names = meta["classes"]
    summary["class_fraction"] = {
        (names[k] if k < len(names) else "ignore"): round(v / total, 4) for k, v in sorted(class_pixels.items())
    }
    if depths:
        summary["depth_m"] = [round(min(depths), 3), round(max(depths), 3)]
    return summary


def print_summary(root: str | Path) -> None:
    s = summarise(root)
    print(f"data set {s['root']}: tasks {s['tasks']}, images {s['image_size'][0]}x{s['image_size'][1]}")
    print("  splits: " + ", ".join(f"{k} {v}" for k, v in s["splits"].items()))
    if s.get("class_fraction"):
        print("  class pixels: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in s["class_fraction"].items()))
    if s.get("depth_m"):
        print(f"  depth: {s['depth_m'][0]} to {s['depth_m'][1]} m")
