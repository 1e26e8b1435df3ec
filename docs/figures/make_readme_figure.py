"""The README's first picture: rooms test images, their ground truth and what a Diff-2-in-1 checkpoint predicts.

    python docs/figures/make_readme_figure.py --checkpoint runs/demo/improve/checkpoint --data data/rooms

writes docs/figures/readme.png and readme.json (the command, the checkpoint, the git commit, the machine). Run it after
`make demo`; the tests do not need it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from diff2in1 import Diff2in1Pipeline
from diff2in1.data.dataset import LayoutDataset
from diff2in1.fileio import write_json
from diff2in1.report.examples import spread
from diff2in1.report.figures import comparison_grid, save_png


def _commit() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="runs/demo/improve/checkpoint")
    parser.add_argument("--data", default="data/rooms", help="rooms data set (project layout)")
    parser.add_argument("--num", type=int, default=3, help="rows: test images spread over the split")
    parser.add_argument("--tile", type=int, default=128, help="height of each picture, pixels")
    parser.add_argument("--out", default=str(Path(__file__).with_name("readme.png")))
    args = parser.parse_args()

    pipe = Diff2in1Pipeline.from_pretrained(args.checkpoint, which="theta_c")
    test = LayoutDataset(args.data, "test")
    items = [test[i] for i in spread(len(test), args.num)]
    images = torch.stack([item["image"] for item in items])
    out = pipe(images, output_type="pt")
    tasks = [t for t in ("normal", "depth", "semseg") if getattr(out, t) is not None]
    truth = [{t: item[t] for t in tasks} for item in items]
    predicted = [{t: getattr(out, t)[i] for t in tasks} for i in range(len(items))]
    grid = comparison_grid(images, {"truth": truth, "Diff-2-in-1": predicted}, tasks, len(pipe.classes), args.tile)
    path = save_png(args.out, grid)
    write_json(Path(args.out).with_suffix(".json"), {"command": "python " + " ".join(sys.argv), "git_commit": _commit(),
                                                     "machine": f"{platform.machine()} {os.cpu_count()} cores",
                                                     "checkpoint": args.checkpoint, "data": args.data,
                                                     "test_ids": [item["id"] for item in items]})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
