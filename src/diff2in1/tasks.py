"""Task names used everywhere: data-set folders, configs, checkpoints and metric files."""

from __future__ import annotations

NORMAL = "normal"
DEPTH = "depth"
SEMSEG = "semseg"
TASKS: tuple[str, ...] = (NORMAL, DEPTH, SEMSEG)
IGNORE_INDEX = 255


def check_tasks(tasks: list[str] | tuple[str, ...], where: str = "config") -> list[str]:
    """Return ``tasks`` as a list, or raise ValueError naming the unknown ones and where they came from."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"{where}: unknown task(s) {unknown}; known tasks are {list(TASKS)}")
    if not tasks:
        raise ValueError(f"{where}: no task given; choose from {list(TASKS)}")
    return list(tasks)
