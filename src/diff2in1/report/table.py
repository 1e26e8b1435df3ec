"""The report's metrics table: warm-up, the control, Diff-2-in-1 (θC) and θE.

The change that matters is Diff-2-in-1 against the control (the same stage on real data only); it is
coloured only when it is larger than the seed spread the benchmark measured for that metric, scored the
same way (flip-averaged against flip-averaged, plain against plain), so a change within the noise of one
run stays grey and is marked a tie.
"""

from __future__ import annotations

import math
from html import escape

from ..metrics import DEPTH_KEYS, EDGE_KEYS, HUMAN_PARTS_KEYS, NORMAL_KEYS, SALIENCY_KEYS, SEGMENTATION_KEYS
from ..tasks import TASKS

# Direction of each metric: +1 higher is better, -1 lower is better.
DIRECTION: dict[str, dict[str, int]] = {
    "normal": {"mean": -1, "median": -1, "rmse": -1, "a11.25": 1, "a22.5": 1, "a30": 1},
    "depth": {"abs_rel": -1, "sq_rel": -1, "rmse": -1, "rmse_log": -1, "log10": -1, "d1": 1, "d2": 1, "d3": 1},
    "semseg": {"miou": 1, "pixel_acc": 1},
    "edge": {"odsF": 1, "precision": 1, "recall": 1},
    "saliency": {"maxF": 1, "miou": 1},
    "human_parts": {"miou": 1, "pixel_acc": 1},
}
ORDER = {"normal": NORMAL_KEYS, "depth": DEPTH_KEYS, "semseg": SEGMENTATION_KEYS, "edge": EDGE_KEYS,
         "saliency": SALIENCY_KEYS, "human_parts": HUMAN_PARTS_KEYS}
UNITS = {"normal": {"mean": "°", "median": "°", "rmse": "°", "a11.25": "%", "a22.5": "%", "a30": "%"},
         "depth": {"rmse": " m"}}
COLUMNS = (("warmup", "warm-up"), ("control", "control"), ("theta_c", "Diff-2-in-1 (θC)"), ("theta_e", "θE"))


def direction(task: str, metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 for a metric this table does not know."""
    return DIRECTION.get(task, {}).get(metric, 0)


def decimals_for(values: list[float | None]) -> int:
    """Decimals that show about 4 significant digits of the largest value (between 1 and 4)."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite:
        return 2
    return min(4, max(1, 3 - math.floor(math.log10(max(finite)))))


def change_class(task: str, metric: str, before: float | None, after: float | None, decimals: int = 4) -> str:
    """CSS class of a change: 'better', 'worse', or 'same' (a change that rounds to 0 at ``decimals``, an
    unknown direction or a missing value)."""
    if before is None or after is None or math.isnan(before) or math.isnan(after):
        return "same"
    change, sign = after - before, direction(task, metric)
    if sign == 0 or abs(change) < 0.5 * 10.0**-decimals:
        return "same"
    return "better" if change * sign > 0 else "worse"


def format_value(value: float | None, decimals: int = 4, signed: bool = False) -> str:
    """``value`` with ``decimals`` decimals (and its sign when ``signed``); '—' for a missing value."""
    if value is None or math.isnan(value):
        return "—"
    if signed and abs(value) < 0.5 * 10.0**-decimals:
        return f"{0:.{decimals}f}"  # not "-0.00"
    return f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"


def metric_rows(metrics: dict[str, dict[str, dict[str, float]]]) -> list[tuple[str, str]]:
    """(task, metric) pairs found in any column, tasks in the project's order, metrics in their usual order."""
    rows = []
    for task in TASKS:
        found = {m for stage in metrics.values() for m in stage.get(task, {})}
        known = [m for m in ORDER.get(task, ()) if m in found]
        rows += [(task, m) for m in known + sorted(found - set(known))]
    return rows


def _value(metrics: dict, stage: str, task: str, metric: str) -> float | None:
    value = metrics.get(stage, {}).get(task, {}).get(metric)
    return None if value is None else float(value)


def spread_class(task: str, metric: str, before: float | None, after: float | None,
                 spread: float | None) -> str:
    """'better' / 'worse' only when the change exceeds ``spread`` (the benchmark's seed spread); else 'same'."""
    if spread is None or before is None or after is None or abs(after - before) <= spread:
        return "same"
    return change_class(task, metric, before, after, 12)


def metrics_table_html(metrics: dict[str, dict[str, dict[str, float]]],
                       spread: dict[str, dict[str, float]] | None = None,
                       columns: tuple[tuple[str, str], ...] = COLUMNS, table_id: str = "metrics-plain") -> str:
    """An HTML <table>: one row per task/metric; one column per stage of ``columns``, then θC − control.

    ``metrics``: {"warmup" | "control" | "theta_c" | "theta_e": {task: {metric: value}}}; a missing stage
    gives '—'. ``spread``: {task: {metric: seed std of (Diff-2-in-1 − control)}} from the benchmark, measured
    the way ``metrics`` were scored (flip-averaged or plain).
    """
    head = "".join(f"<th>{escape(name)}</th>" for _, name in columns)
    lines = [f"<table class='metrics' id='{escape(table_id)}'><thead><tr><th>task</th><th>metric</th>{head}"
             "<th>Δ Diff-2-in-1 vs control</th><th>seed spread</th></tr></thead><tbody>"]
    for task, metric in metric_rows(metrics):
        sign = direction(task, metric)
        arrow = {1: " ↑", -1: " ↓", 0: ""}[sign]
        unit = UNITS.get(task, {}).get(metric, "")
        places = decimals_for([_value(metrics, stage, task, metric) for stage, _ in columns])
        cells = [f"<td>{escape(task)}</td><td title='{'higher' if sign > 0 else 'lower'} is better'>"
                 f"{escape(metric)}{unit and ' (' + escape(unit.strip()) + ')'}{arrow}</td>"]
        cells += [f"<td class='num'>{format_value(_value(metrics, stage, task, metric), places)}</td>"
                  for stage, _ in columns]
        control, ours = _value(metrics, "control", task, metric), _value(metrics, "theta_c", task, metric)
        noise = (spread or {}).get(task, {}).get(metric)
        delta = None if control is None or ours is None else ours - control
        verdict = spread_class(task, metric, control, ours, noise)
        tie = " (tie)" if verdict == "same" and delta is not None and noise is not None else ""
        fine = min(4, places + 1)  # a difference and its spread are smaller than the values: one more decimal
        cells.append(f"<td class='num {verdict}'>{format_value(delta, fine, signed=True)}{tie}</td>")
        cells.append(f"<td class='num'>{'—' if noise is None else '± ' + format_value(noise, fine)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


SPREAD_FILE = "demo_spread.json"


def benchmark_spread_file() -> dict:
    """The seed spread bench/self_improve.py wrote beside this module, with the setting it was measured in
    ("spread": plain, "spread_tta": flip-averaged, "arm", "labelled", "stage2_steps", ...); {} before it ran."""
    import json
    from importlib import resources

    path = resources.files("diff2in1") / "report" / SPREAD_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def benchmark_spread(flip_averaged: bool = False) -> dict[str, dict[str, float]] | None:
    """{task: {metric: std}} of the benchmark's Diff-2-in-1 − control over seeds, scored plain or with flip
    averaging; None when that spread was not measured."""
    return benchmark_spread_file().get("spread_tta" if flip_averaged else "spread")
