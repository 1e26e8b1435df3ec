"""The report's numbers: the metrics tables (flip-averaged first when the run scored so), the model the run
exports, and how long each stage took."""

from __future__ import annotations

from html import escape
from typing import Any

from .runfolder import RunFolder
from .table import COLUMNS, benchmark_spread, benchmark_spread_file, metrics_table_html

STAGE_NAMES = {"rooms": "rooms data set", "warmup": "warm-up (with its evaluation)", "create": "creation",
               "improve": "improve (Diff-2-in-1, with its evaluation)", "control": "control (with its evaluation)",
               "report": "report"}


def note(text: str) -> str:
    return f"<p class='note'>{escape(text)}</p>" if text else ""


def spread_setting(run: RunFolder) -> str:
    """Where the seed spread comes from, and whether this run's improve stage is as long as the benchmark's."""
    meta = benchmark_spread_file()
    if not meta:
        return "no change is coloured: no benchmark seed spread is known"
    text = (f"the standard deviation over {meta.get('seeds', '?')} seeds of the benchmark's "
            f"{meta.get('arm', '?')} arm − control at {meta.get('labelled', '?')} labels, "
            f"{meta.get('stage2_steps', '?')}-step improve stage (bench/self_improve.py, stored in "
            "diff2in1/report/demo_spread.json)")
    steps = run.improve_config.get("steps")
    if steps and meta.get("stage2_steps") and int(steps) != int(meta["stage2_steps"]):
        text += (f"; this run's improve stage is {steps} steps, so the spread is the nearest setting measured, "
                 "not this run's own")
    return text


def _present(columns: tuple[tuple[str, str], ...], metrics: dict) -> tuple[tuple[str, str], ...]:
    return tuple((key, name) for key, name in columns if metrics.get(key))


MODEL_NAMES = {"diff2in1": "Diff-2-in-1", "control": "the control"}
def chosen_sentence(chosen: dict[str, Any]) -> str:
    """`diff2in1 run`'s ``chosen`` record (workflow/choose.py) in words: which model, on what, and why."""
    name = MODEL_NAMES.get(chosen.get("model"), str(chosen.get("model")))
    if chosen.get("on") != "val":
        return f"{name}, exported without a choice: {chosen.get('why', 'no validation split')}"
    wins = chosen.get("wins") or {}
    won = ", ".join(f"{task}: {MODEL_NAMES.get(w, w)}" for task, w in wins.items()) or "no task differs"
    rule = chosen.get("rule_words") or f"by rule {chosen.get('rule', 'more_tasks_won')}"  # older records lack the words
    return f"{name} (RUN/model/), chosen on the validation split {rule} ({won})"


def exported_model(run: RunFolder) -> str:
    """A line naming the model the run chose to export, when its metrics.json records one."""
    chosen: Any = run.summary.get("chosen")
    if not chosen:
        return ""
    text = chosen if isinstance(chosen, str) else chosen_sentence(chosen)
    return f"<p><b>Exported model</b>: {escape(text)}</p>"


def section_metrics(run: RunFolder) -> str:
    """Flip-averaged table first (when Diff-2-in-1 was scored so), then the plain one; colours only beyond the
    benchmark's seed spread measured the same way."""
    parts = ["<h2>Metrics</h2>"]
    if not any(run.metrics.values()):
        return parts[0] + note("No metrics yet: the warm-up has not finished its evaluation.")
    if not run.metrics["theta_c"]:
        parts.append(note("The improve stage has not finished: only the warm-up's numbers are shown."))
    parts.append(exported_model(run))
    parts.append(f"<p class='muted'>Split: {escape(run.split or '?')}. ↑ higher is better, ↓ lower is better. "
                 "Green / red: Diff-2-in-1 better / worse than the control by more than the seed spread, "
                 f"{escape(spread_setting(run))}. A change within the spread is not coloured and is marked "
                 f"“tie”. Improve preset: {escape(str(run.improve_config.get('preset') or 'default'))}.</p>")
    if not run.metrics.get("control"):
        parts.append(note("No control run (control: false in the run config): Diff-2-in-1 has nothing fair "
                          "to be compared with, so no change is coloured."))
    if run.metrics_tta.get("theta_c"):
        parts.append("<h3>With flip test-time averaging (each image and its mirror)</h3>")
        parts.append(metrics_table_html(run.metrics_tta, benchmark_spread(flip_averaged=True),
                                        _present(COLUMNS, run.metrics_tta), table_id="metrics-tta"))
        parts.append("<p class='muted'>The warm-up is scored without flip averaging only: it is in the table "
                     "below.</p><h3>Without flip averaging</h3>")
    parts.append(metrics_table_html(run.metrics, benchmark_spread(flip_averaged=False)))
    return "\n".join(p for p in parts if p)


def section_timings(run: RunFolder) -> str:
    """Seconds each stage took, as `diff2in1 run` recorded them (RUN/timings.json)."""
    if not run.timings:
        return ""
    rows = "".join(f"<tr><td>{escape(STAGE_NAMES.get(stage, stage))}</td>"
                   f"<td class='num'>{float(seconds):.0f} s</td></tr>" for stage, seconds in run.timings.items())
    total = sum(float(s) for s in run.timings.values())
    return (f"<h2>Stage times</h2>\n<table class='timings'>{rows}<tr><th>total</th><th class='num'>{total:.0f} s "
            f"({total / 60:.1f} min)</th></tr></table>\n<p class='muted'>Wall-clock seconds of each stage of "
            "<code>diff2in1 run</code> (RUN/timings.json); a stage an earlier, interrupted run finished keeps "
            "that run's time.</p>")
