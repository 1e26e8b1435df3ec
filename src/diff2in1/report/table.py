"""The report's metrics table: warm-up vs Diff-2-in-1 (θC) vs θE, with the change coloured by direction."""

from __future__ import annotations

import math
from html import escape

from ..metrics import DEPTH_KEYS, NORMAL_KEYS, SEGMENTATION_KEYS
from ..tasks import TASKS

# Direction of each metric: +1 higher is better, -1 lower is better.
DIRECTION: dict[str, dict[str, int]] = {
    "normal": {"mean": -1, "median": -1, "rmse": -1, "a11.25": 1, "a22.5": 1, "a30": 1},
    "depth": {"abs_rel": -1, "sq_rel": -1, "rmse": -1, "rmse_log": -1, "log10": -1, "d1": 1, "d2": 1, "d3": 1},
    "semseg": {"miou": 1, "pixel_acc": 1},
}
ORDER = {"normal": NORMAL_KEYS, "depth": DEPTH_KEYS, "semseg": SEGMENTATION_KEYS}
UNITS = {"normal": {"mean": "°", "median": "°", "rmse": "°", "a11.25": "%", "a22.5": "%", "a30": "%"},
         "depth": {"rmse": " m"}}
COLUMNS = (("warmup", "warm-up"), ("theta_c", "Diff-2-in-1 (θC)"), ("theta_e", "θE"))


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


def metrics_table_html(metrics: dict[str, dict[str, dict[str, float]]]) -> str:
    """An HTML <table>: one row per task/metric; columns warm-up, θC, θE and both changes vs warm-up.

    ``metrics``: {"warmup" | "theta_c" | "theta_e": {task: {metric: value}}}; a missing stage gives '—'.
    """
    head = "".join(f"<th>{escape(name)}</th>" for _, name in COLUMNS)
    lines = [f"<table class='metrics'><thead><tr><th>task</th><th>metric</th>{head}"
             "<th>Δ Diff-2-in-1 vs warm-up</th><th>Δ θE vs warm-up</th></tr></thead><tbody>"]
    for task, metric in metric_rows(metrics):
        sign = direction(task, metric)
        arrow = {1: " ↑", -1: " ↓", 0: ""}[sign]
        unit = UNITS.get(task, {}).get(metric, "")
        before = _value(metrics, "warmup", task, metric)
        places = decimals_for([_value(metrics, stage, task, metric) for stage, _ in COLUMNS])
        cells = [f"<td>{escape(task)}</td><td title='{'higher' if sign > 0 else 'lower'} is better'>"
                 f"{escape(metric)}{unit and ' (' + escape(unit.strip()) + ')'}{arrow}</td>"]
        for stage, _ in COLUMNS:
            value = _value(metrics, stage, task, metric)
            css = "same" if stage == "warmup" else change_class(task, metric, before, value, places)
            cells.append(f"<td class='num {css}'>{format_value(value, places)}</td>")
        for stage in ("theta_c", "theta_e"):
            after = _value(metrics, stage, task, metric)
            delta = None if before is None or after is None else after - before
            cells.append(f"<td class='num {change_class(task, metric, before, after, places)}'>"
                         f"{format_value(delta, places, signed=True)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)
