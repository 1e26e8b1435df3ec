"""The results tables of the README and docs/self_improve.md, printed from a round's results (Markdown, to paste).

    python docs/figures/readme_results_table.py          # README: the best arm and the oracle per label count
    python docs/figures/readme_results_table.py --all    # docs/self_improve.md: every arm, one table per count

Each arm against its matched-compute control (the same optimizer steps in one schedule, as many real images
per step), flip averaging on both sides, test split: mean ± std over seeds of the paired difference (wins out
of seeds). The best arm is the one chosen on validation; oracles put ground truth in the teacher's place.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

STRICT_RULE = "no_task_lost"  # run's other choice rule (workflow/choose.py)
RESULTS = Path(__file__).parents[2] / "bench" / "results" / "round3" / "self_improve.json"
METRICS = (("normal.mean", "normal mean error (°) ↓", 3), ("depth.abs_rel", "depth abs rel ↓", 4),
           ("semseg.miou", "mIoU ↑", 4))
PLACES = {key: places for key, _, places in METRICS}


def _cell(value: list, places: int, seeds: int) -> str:
    mean, std, wins = value
    return f"{mean:+.{places}f} ± {std:.{places}f} ({wins}/{seeds})"


def _header(*first: str) -> list[str]:
    names = [*first, *(name for _, name, _ in METRICS)]
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]


def _paired_seeds(summary: dict, arm: str) -> int:
    return min(summary["arms"][arm]["seeds"], summary["arms"][summary["paired_with"][arm]]["seeds"])


def _row(first: str, summary: dict, arm: str) -> str:
    seeds = _paired_seeds(summary, arm)
    cells = [_cell(summary["minus_control"][arm]["tta"][key], places, seeds) for key, _, places in METRICS]
    return f"| {first} | " + " | ".join(cells) + " |"


def _name(summary: dict, arm: str) -> str:
    best = " (best on validation)" if arm == summary["best"] else ""
    oracle = " (ground truth)" if arm.startswith("oracle") else ""
    return f"`{arm}` − `{summary['paired_with'][arm]}`{best}{oracle}"


def compared(summary: dict, every_arm: bool) -> list[str]:
    """The arms with a matched control and a run, best first, oracles last; only the best and the oracles
    unless ``every_arm``."""
    arms = [arm for arm in summary["paired_with"] if arm in summary["minus_control"]
            and summary["arms"].get(arm, {}).get("preregistered", True)]
    if not every_arm:
        arms = [arm for arm in arms if arm == summary["best"] or arm.startswith("oracle")]
    by_normal = sorted(arms, key=lambda arm: summary["minus_control"][arm]["tta"]["normal.mean"][0])
    return sorted(by_normal, key=lambda arm: (arm != summary["best"], arm.startswith("oracle")))


def exported_row(first: str, summary: dict, rule: str = "") -> list[str]:
    """What `run` exports per seed (the best arm or its control, whichever its rule prefers on validation)
    against the control: what a user of `run` would have got. ``first``: the label count column (README) or
    "" (docs, a table per count); ``rule``: "" for run's default, else the other rule's name."""
    chosen = summary.get(f"chosen_minus_control_{rule}" if rule else "chosen_minus_control")
    if not chosen or not chosen.get("chose"):
        return []
    seeds = len(chosen["chose"])
    arm = sum(choice == summary["best"] for choice in chosen["chose"].values())
    cells = [_cell(chosen["tta"][key], places, seeds) for key, _, places in METRICS]
    by = f"with `choose_by: {rule}`, " if rule else ""
    name = (f"`run`'s export ({by}the arm on {arm}/{seeds} seeds, else the control) − "
            f"`{summary['paired_with'][summary['best']]}`")
    return [f"| {first + ' | ' if first else ''}{name} | " + " | ".join(cells) + " |"]


def verdict(summary: dict) -> list[str]:
    """The pre-registered target's verdict, whether run's export stays within the control's seed spread, and
    the matched oracle's share, under a label count's table."""
    lines = []
    target = summary.get("target")
    if target:
        state = "met" if target["met"] else (f"pending, {target['seeds']} of {target['required']} seeds" if not target["complete"]
                                             else "not met")
        failing = [key for key, ok in target["checks"].items() if not ok]
        so_far = "" if target["complete"] else "so far "
        lines.append(f"Target: **{state}**" + (f" ({so_far}failing: {', '.join(failing)})" if failing else "") + ".")
    for by, key in (("", "export_within_spread"), (f" with `choose_by: {STRICT_RULE}`", f"export_within_spread_{STRICT_RULE}")):
        check = summary.get(key)
        if check == {} and not by:
            lines.append("`run`'s export: not checked until the control has run on 2 seeds (no seed spread before).")
        if check:
            beyond = [name for name, value in check.items() if not value["within"]]
            lines.append(f"`run`'s export{by} on its worst seed: " + (
                f"worse than the control by more than the seed spread on {', '.join(beyond)}." if beyond
                else "within the control's seed spread on every metric."))
    share = summary.get("matched_oracle_share", {}).get("tta", {})
    oracle = summary.get("minus_control", {}).get(summary.get("matched_oracle"), {}).get("tta", {})
    if share:  # beside the oracle's own gain: a share of a gain near zero means little
        lines.append("Share of the matched oracle's gain: " + ", ".join(
            _share(key, value, oracle.get(key)) for key, value in share.items()) + ".")
    return lines


def _share(key: str, share: float, oracle: list | None) -> str:
    """``key``'s share of the oracle's gain, or, where that gain is within 2 paired std of zero (the target's
    bar), the gain alone: a share of noise is any number."""
    if oracle is None:
        return f"{key} {share:.0%}"
    mean, std = oracle[0], oracle[1]
    gain = f"{mean:+.{PLACES[key]}f}"
    if abs(mean) <= 2 * std:
        return f"{key}: none to share (the oracle's {gain} ± {std:.{PLACES[key]}f} is within 2 paired std of zero)"
    return f"{key} {share:.0%} of {gain}"


def readme_rows(results: dict) -> list[str]:
    lines = _header("labels (seeds)", "arm − matched control")
    for labels, summary in results["labelled"].items():
        arms = compared(summary, every_arm=False)
        rows = [_row(f"{labels} ({_paired_seeds(summary, arm)}) | {_name(summary, arm)}", summary, arm)
                for arm in arms]
        lines += rows[:1] + exported_row(f"{labels} ({len(summary.get('chosen_minus_control', {}).get('chose', {}))})",
                                         summary) + rows[1:]
    return lines


def docs_tables(results: dict) -> list[str]:
    lines: list[str] = []
    for labels, summary in results["labelled"].items():
        rows = [_row(_name(summary, arm), summary, arm) for arm in compared(summary, every_arm=True)]
        lines += [f"**{labels} labels**, seeds {summary['seeds']}:", "", *_header("arm − matched control"),
                  *rows[:1], *exported_row("", summary), *exported_row("", summary, STRICT_RULE), *rows[1:], "",
                  *verdict(summary), ""]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="every arm, one table per label count")
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    path = Path(args.results)
    results = json.loads(path.read_text())
    print(f"<!-- printed by docs/figures/readme_results_table.py{' --all' if args.all else ''} from "
          f"{path.resolve().relative_to(RESULTS.parents[3])} (commit {results['git_commit'][:7]}) -->")
    print("\n".join(docs_tables(results) if args.all else readme_rows(results)))


if __name__ == "__main__":
    main()
