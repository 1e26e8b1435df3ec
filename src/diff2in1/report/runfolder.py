"""Reading a run folder written by `diff2in1 run`: configs, metrics, logs, and which stages are there.

Every piece is optional: a run still in its warm-up has no improve/ folder, a real-only control has no
synthetic/ folder. Missing files give empty values, and the report says what is missing.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fileio import read_json, read_yaml
from ..tasks import TASK_SPECS, TASKS
from .figures import Panel

# The metric each task's curve shows, with its axis label.
PRIMARY_METRIC = {"normal": ("mean", "mean angular error (°), lower is better"),
                  "depth": ("abs_rel", "abs rel, lower is better"),
                  "semseg": ("miou", "mIoU, higher is better"),
                  **{t: (s.headline[0], f"{s.headline[0]}, {'higher' if s.headline[1] else 'lower'} is better")
                     for t, s in TASK_SPECS.items() if t not in ("normal", "depth", "semseg")}}
STAGE_LABELS = {"warmup": "warm-up", "theta_e": "θE (exploitation)", "theta_c": "θC (Diff-2-in-1)"}


def _read_optional(path: Path, reader) -> Any:
    try:
        return reader(path)
    except (FileNotFoundError, ValueError):
        return {}


def read_csv(path: str | Path) -> list[dict[str, float]]:
    """Rows of a training log as floats (empty cells and unreadable values become NaN); [] without a file."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as handle:
        for raw in csv.DictReader(handle):
            row = {}
            for key, value in raw.items():
                try:
                    row[key] = float(value)
                except (TypeError, ValueError):
                    row[key] = math.nan
            rows.append(row)
    return rows


@dataclass
class RunFolder:
    """What a run folder holds; every mapping is empty when its file is missing."""

    root: Path
    config: dict[str, Any] = field(default_factory=dict)  # RUN/config.yaml (shared keys + stage sections)
    warmup_config: dict[str, Any] = field(default_factory=dict)  # resolved WarmupConfig
    improve_config: dict[str, Any] = field(default_factory=dict)  # resolved ImproveConfig
    checkpoint_info: dict[str, Any] = field(default_factory=dict)  # warmup/checkpoint/perception.json
    synthetic_meta: dict[str, Any] = field(default_factory=dict)  # synthetic/meta.json
    metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # warmup / control / theta_c / theta_e
    metrics_tta: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # the same, flip-averaged
    summary: dict[str, Any] = field(default_factory=dict)  # the run's metrics.json as written by `run`
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage (RUN/timings.json)
    split: str = ""
    improve_step: int = 0

    @property
    def warmup_checkpoint(self) -> Path:
        return self.root / "warmup" / "checkpoint"

    @property
    def improve_checkpoint(self) -> Path:
        return self.root / "improve" / "checkpoint"

    @property
    def synthetic(self) -> Path:
        return self.root / "synthetic"

    def has_improve(self) -> bool:
        return (self.improve_checkpoint / "perception.json").is_file()

    def tasks(self) -> list[str]:
        found = self.checkpoint_info.get("tasks") or self.warmup_config.get("tasks") or list(self.metrics.get("warmup", {}))
        return [t for t in TASKS if t in found]

    def setting(self, key: str, default: Any = None) -> Any:
        """A shared setting: the resolved warm-up config first, then RUN/config.yaml (top level or warmup:)."""
        for source in (self.warmup_config, self.config.get("warmup") or {}, self.config):
            if source.get(key) not in (None, ""):
                return source[key]
        return default


def read_run(root: str | Path) -> RunFolder:
    """Read what exists of ``root``; raises FileNotFoundError when it holds no run at all."""
    root = Path(root)
    if not (root / "warmup").is_dir() and not (root / "improve").is_dir():
        raise FileNotFoundError(f"{root}: no warmup/ or improve/ folder; pass the folder written by `diff2in1 run`")
    run = RunFolder(root=root)
    run.config = _read_optional(root / "config.yaml", read_yaml)
    run.warmup_config = _read_optional(root / "warmup" / "config.yaml", read_yaml)
    run.improve_config = _read_optional(root / "improve" / "config.yaml", read_yaml)
    run.checkpoint_info = _read_optional(run.warmup_checkpoint / "perception.json", read_json)
    run.synthetic_meta = _read_optional(run.synthetic / "meta.json", read_json)
    warm = _read_optional(root / "warmup" / "metrics.json", read_json)
    improved = _read_optional(root / "improve" / "metrics.json", read_json)
    summary = _read_optional(root / "metrics.json", read_json)
    run.metrics = {
        "warmup": summary.get("warmup") or warm.get("metrics") or {},
        "theta_c": summary.get("diff2in1") or (improved.get("metrics") or {}).get("theta_c") or {},
        "theta_e": summary.get("diff2in1_theta_e") or (improved.get("metrics") or {}).get("theta_e") or {},
        "control": summary.get("control") or {},
    }
    run.metrics_tta = {
        "control": summary.get("control_tta") or {},
        "theta_c": summary.get("diff2in1_tta") or (improved.get("metrics") or {}).get("theta_c_tta") or {},
        "theta_e": summary.get("diff2in1_theta_e_tta") or (improved.get("metrics") or {}).get("theta_e_tta") or {},
    }
    run.summary = summary
    run.timings = _read_optional(root / "timings.json", read_json) or summary.get("timings") or {}
    run.split = summary.get("split") or warm.get("split") or ""
    run.improve_step = int(improved.get("step") or 0)
    return run


def resolve_data(run: RunFolder, data: str | Path | None, dataset: str | None) -> tuple[Path | None, str, str]:
    """(folder of the real data set or None when not found, reader name, the path that was looked for)."""
    name = dataset or run.setting("dataset") or run.checkpoint_info.get("dataset") or "rooms"
    wanted = data or run.setting("data") or run.checkpoint_info.get("data")
    if not wanted:
        return None, name, ""
    for candidate in (Path(wanted).expanduser(), run.root / wanted, run.root.parent / wanted):
        if candidate.exists():
            return candidate, name, str(wanted)
    return None, name, str(wanted)


def _offset(rows: list[dict[str, float]]) -> float:
    return rows[-1].get("step", 0.0) if rows else 0.0


def loss_panels(run: RunFolder) -> tuple[list[Panel], float | None]:
    """Loss curves on one step axis (improve steps continue after the warm-up's), and the boundary step."""
    warm, improve = read_csv(run.root / "warmup" / "log.csv"), read_csv(run.root / "improve" / "log.csv")
    if not warm and not improve:
        return [], None
    offset = _offset(warm) or float(run.warmup_config.get("steps") or 0)
    total = Panel("training loss (total)", "loss")
    per_task = Panel("loss per task (warm-up, then improve)", "loss")
    for label, rows, shift in (("warm-up", warm, 0.0), ("improve (θE)", improve, offset)):
        if rows:
            total.series[label] = ([r["step"] + shift for r in rows], [r.get("total", math.nan) for r in rows])
    for task in TASKS:
        rows = [(r["step"], r[task]) for r in warm if task in r] + [(r["step"] + offset, r[task]) for r in improve if task in r]
        if rows:
            per_task.series[task] = ([s for s, _ in rows], [v for _, v in rows])
    panels = [total] + ([per_task] if len(per_task.series) > 1 else [])
    return panels, (offset if warm and improve else None)


def eval_panels(run: RunFolder) -> list[Panel]:
    """One panel per task: its primary metric during warm-up and for θE / θC during improve.

    The final evaluations (metrics.json) are added as the last points, since the improve stage writes its
    final numbers there only; θE and θC start from the warm-up's last point.
    """
    warm, improve = read_csv(run.root / "warmup" / "eval.csv"), read_csv(run.root / "improve" / "eval.csv")
    offset = _offset(read_csv(run.root / "warmup" / "log.csv")) or _offset(warm)
    panels = []
    for task in run.tasks():
        metric, ylabel = PRIMARY_METRIC[task]
        key = f"{task}/{metric}"
        panel = Panel(f"{task}: {metric} on the {run.split or 'evaluation'} split", ylabel)
        points = {"warmup": [(r["step"], r[key]) for r in warm if not math.isnan(r.get(key, math.nan))]}
        for stage, prefix in (("theta_e", "E:"), ("theta_c", "C:")):
            points[stage] = [(r["step"] + offset, r[prefix + key]) for r in improve
                             if not math.isnan(r.get(prefix + key, math.nan))]
            final = run.metrics[stage].get(task, {}).get(metric)
            if final is not None and run.improve_step and (not points[stage] or points[stage][-1][0] < offset + run.improve_step):
                points[stage].append((offset + run.improve_step, final))
            if points[stage] and points["warmup"] and points["warmup"][-1][0] == offset:
                points[stage].insert(0, points["warmup"][-1])  # θE and θC both start as the final warm-up head
        for stage, values in points.items():
            if values:
                panel.series[STAGE_LABELS[stage]] = ([s for s, _ in values], [v for _, v in values])
        if panel.series:
            panels.append(panel)
    return panels
