"""The README's results table, printed from bench/results/self_improve.json (Markdown, to paste).

    python docs/figures/readme_results_table.py

Diff-2-in-1's best arm on validation against its control (the improve stage on real images only, the same
optimizer steps), flip averaging on both sides, test split: mean ± std over seeds of the paired difference
(wins out of seeds). At 100 labels also against `control_long`, the control given 4500 more steps.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parents[2] / "bench" / "results" / "self_improve.json"
METRICS = (("normal.mean", "normal mean error (°) ↓", 3), ("depth.abs_rel", "depth abs rel ↓", 4),
           ("semseg.miou", "mIoU ↑", 4))


def _cell(value: list, places: int, seeds: int) -> str:
    mean, std, wins = value
    return f"{mean:+.{places}f} ± {std:.{places}f} ({wins}/{seeds})"


def rows(results: dict) -> list[str]:
    lines = ["| labels | against | " + " | ".join(name for _, name, _ in METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    for labels, summary in results["labelled"].items():
        comparisons = [("control, same steps", summary["best_minus_control"])]
        if "best_minus_control_long" in summary:
            comparisons.append(("`control_long` (the control continued 4500 steps)", summary["best_minus_control_long"]))
        for against, delta in comparisons:
            cells = [_cell(delta["tta"][key], places, len(summary["seeds"])) for key, _, places in METRICS]
            lines.append(f"| {labels} | {against} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    results = json.loads(RESULTS.read_text())
    arms = {summary["best"] for summary in results["labelled"].values()}
    print(f"<!-- {RESULTS.relative_to(RESULTS.parents[2])}, commit {results['git_commit'][:7]}, arm {', '.join(arms)} -->")
    print("\n".join(rows(results)))


if __name__ == "__main__":
    main()
