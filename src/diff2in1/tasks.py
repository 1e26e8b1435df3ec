"""Task names used everywhere (data-set folders, configs, checkpoints, metric files) and what each task's
label is: the one registry that heads, metrics, readers, the report and the pipeline output read.

Label kinds (the ground-truth layout a task's batch entry has):

- ``normal``: Bx3xHxW unit vectors, all-zero = invalid;
- ``depth``: Bx1xHxW metres, 0 = invalid;
- ``classes``: BxHxW int64 class index, 255 = ignore (``semseg``: the data set's ``classes``;
  ``human_parts``: the fixed :data:`HUMAN_PART_CLASSES`);
- ``binary``: Bx1xHxW float in {0, 1} (``edge``: 1 = boundary pixel; ``saliency``: 1 = salient object).
"""

from __future__ import annotations

from dataclasses import dataclass

NORMAL = "normal"
DEPTH = "depth"
SEMSEG = "semseg"
EDGE = "edge"
SALIENCY = "saliency"
HUMAN_PARTS = "human_parts"
IGNORE_INDEX = 255

# PASCAL-Part's person parts grouped as the multi-task works group them (ASTMT, MTI-Net, ATRC, InvPT).
HUMAN_PART_CLASSES: tuple[str, ...] = (
    "background", "head", "torso", "upper arms", "lower arms", "upper legs", "lower legs",
)


@dataclass(frozen=True)
class TaskSpec:
    """What a task is.

    Args:
        name: the task's name (folder, config and metric key).
        kind: ``normal``, ``depth``, ``classes`` or ``binary`` (see the module docstring).
        title: short human name used in pictures and tables.
        loss_weight: its fixed weight in the multi-task loss (``--loss-weighting fixed``). The new tasks take
            the weights of the multi-task works (ATRC / InvPT: edge 50, saliency 5, human parts 2, against
            semantic segmentation 1); normals and depth keep 1, because their losses here (vMF NLL, SILog) are
            not the L1 losses those works weight by 10 and 1.
        headline: the metric the report's tables lead with, and whether higher is better.
    """

    name: str
    kind: str
    title: str
    loss_weight: float
    headline: tuple[str, bool]


TASK_SPECS: dict[str, TaskSpec] = {
    NORMAL: TaskSpec(NORMAL, "normal", "normals", 1.0, ("mean", False)),
    DEPTH: TaskSpec(DEPTH, "depth", "depth", 1.0, ("abs_rel", False)),
    SEMSEG: TaskSpec(SEMSEG, "classes", "classes", 1.0, ("miou", True)),
    EDGE: TaskSpec(EDGE, "binary", "boundaries", 50.0, ("odsF", True)),
    SALIENCY: TaskSpec(SALIENCY, "binary", "saliency", 5.0, ("maxF", True)),
    HUMAN_PARTS: TaskSpec(HUMAN_PARTS, "classes", "human parts", 2.0, ("miou", True)),
}
TASKS: tuple[str, ...] = tuple(TASK_SPECS)
BINARY_TASKS: tuple[str, ...] = tuple(t for t, s in TASK_SPECS.items() if s.kind == "binary")
CLASS_TASKS: tuple[str, ...] = tuple(t for t, s in TASK_SPECS.items() if s.kind == "classes")


def check_tasks(tasks: list[str] | tuple[str, ...], where: str = "config") -> list[str]:
    """Return ``tasks`` as a list, or raise ValueError naming the unknown ones and where they came from."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"{where}: unknown task(s) {unknown}; known tasks are {list(TASKS)}")
    if not tasks:
        raise ValueError(f"{where}: no task given; choose from {list(TASKS)}")
    return list(tasks)


def task_kind(task: str) -> str:
    """The label kind of ``task`` (``normal``, ``depth``, ``classes`` or ``binary``)."""
    check_tasks([task], where="task_kind")
    return TASK_SPECS[task].kind


def num_task_classes(task: str, num_classes: int | None) -> int | None:
    """Classes of a ``classes`` task: the data set's ``num_classes`` for semseg, 7 for human parts."""
    if task == HUMAN_PARTS:
        return len(HUMAN_PART_CLASSES)
    return num_classes if task == SEMSEG else None
