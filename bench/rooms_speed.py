"""Rooms rendering speed on one CPU core: images/s for render only and for render + write (PNG files).

    .venv/bin/python bench/rooms_speed.py [--sizes 64 128] [--seconds 3]

The process is pinned to one core (where the OS allows it) and numpy/torch to one thread, so the numbers
say what one ``--workers`` process of ``diff2in1 data rooms`` does.
"""

from __future__ import annotations

import os

# Thread pools read these when numpy and torch are first imported.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402

from diff2in1.data.rooms import RoomsConfig, generate_rooms  # noqa: E402
from diff2in1.data.rooms.generate import render_index  # noqa: E402


def pin_to_one_core() -> str:
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"core {core}"
    return "no affinity (not supported here); one thread"


def rate(run: Callable[[int], None], seconds: float) -> tuple[float, int]:
    """Images/s of ``run(n)`` (which makes n images), growing n until one call lasts ``seconds``."""
    n = 4
    while True:
        start = time.perf_counter()
        run(n)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed, n
        n = max(n * 2, int(n * 1.2 * seconds / max(elapsed, 1e-3)))


def render_only(size: int) -> Callable[[int], None]:
    config = RoomsConfig(size=size, seed=123)

    def run(n: int) -> None:
        for index in range(n):
            render_index(index, config)

    return run


def render_and_write(size: int) -> Callable[[int], None]:
    def run(n: int) -> None:
        with tempfile.TemporaryDirectory() as folder:
            generate_rooms(RoomsConfig(out=folder, num=n, size=size, seed=123), progress=False)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sides in pixels")
    parser.add_argument("--seconds", type=float, default=3.0, help="least duration of each measurement")
    args = parser.parse_args()
    print(f"rooms rendering on one CPU core ({pin_to_one_core()}), numpy/torch on one thread")
    render_index(0, RoomsConfig(size=16))  # warm up imports and caches
    for size in args.sizes:
        for name, make in (("render", render_only), ("render+write", render_and_write)):
            speed, n = rate(make(size), args.seconds)
            print(f"  {size:4d}x{size:<4d} {name:13s} {speed:8.1f} images/s  ({n} images)")


if __name__ == "__main__":
    main()
