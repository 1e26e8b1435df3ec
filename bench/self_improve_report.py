"""The results file of bench/self_improve.py in Markdown, written beside its JSON: per label count the best
arm, every arm against its control, what `run` exports by each rule, the oracle shares and the target's
verdict, then every arm's scores. The numbers are self_improve_tables.summarise's.
"""

from __future__ import annotations

from pathlib import Path

from diff2in1.fileio import write_json, write_text
from self_improve_tables import (
    BIGGER_CONTROLS,
    CREATED_VS_REAL,
    DEFAULT_RULE,
    HEADLINE,
    SAME_STEP,
    STRICT_RULE,
    Pairing,
    fair_oracle,
    summarise,
)
from self_improve_target import export_line, verdict_line


def markdown(summary: dict, meta: dict) -> str:
    lines = ["# Self-improvement: arms against their controls", "",
             f"Command: `{meta['command']}` (runs made one process per seed with `--seeds S`); commit "
             f"`{meta['git_commit']}`; machine: {meta['machine']}; stage 2: {meta['stage2_steps']} steps; unlabelled "
             f"pool: {_pool(meta['pool_size'])}. Test split unless marked val; mean ± std over seeds; Δ is paired by seed "
             "(negative is better for errors, positive for mIoU); wins count seeds. Heads and the best arm are "
             "chosen on validation.", "", f"Runs trained at: {_made_by_line(meta.get('runs_made_by', {}))}.", ""]
    for count, entry in summary.items():
        lines += [f"## {count} labelled images (seeds {entry['seeds']})", ""]
        if "best" in entry:
            lines += [f"Best arm on validation: **{entry['best']}** ({entry['arms'][entry['best']]['head']}; paired "
                      f"with {entry.get('best_against', 'control')}).", ""]
            lines += ["| arm − control | mode | normal mean ° | depth abs_rel | mIoU |", "|---|---|---|---|---|"]
            for arm, deltas in entry.get("minus_control", {}).items():
                name = f"{arm} − {entry['paired_with'][arm]}" if arm in entry.get("paired_with", {}) else arm
                for mode in ("tta", "plain"):
                    cells = [_delta(deltas[mode].get(f"{t}.{m}")) for t, m in HEADLINE.items()]
                    lines.append(f"| {name} | {mode} | " + " | ".join(cells) + " |")
            comparisons = [*((entry["best"], other) for other in BIGGER_CONTROLS), *CREATED_VS_REAL.items()]
            for arm, other in comparisons:
                name = f"best_minus_{other}" if other in BIGGER_CONTROLS else f"{arm}_minus_{other}"
                if name in entry:
                    for mode in ("tta", "plain"):
                        cells = [_delta(entry[name][mode].get(f"{t}.{m}")) for t, m in HEADLINE.items()]
                        lines.append(f"| {arm} − {other} | {mode} | " + " | ".join(cells) + " |")
            if "creation_cost" in entry:
                lines += ["", "Creation cost: arms on created images against their fair control (control_long for *_long), by UNet calls per created "
                          "image (flip averaging on both sides):", "",
                          "| arm | DDIM schedule | UNet calls per image | normal mean ° | depth abs_rel | mIoU |",
                          "|---|---|---|---|---|---|"]
                for row in entry["creation_cost"]:
                    cells = [_delta(row["minus_control"]["tta"].get(f"{t}.{m}")) for t, m in HEADLINE.items()]
                    lines.append(f"| {row['arm']} | {row['schedule_steps']} | {row['unet_calls']} | " + " | ".join(cells) + " |")
            for suffix, rule in (("", f"run's default rule, {DEFAULT_RULE}"), (f"_{STRICT_RULE}", STRICT_RULE)):
                if f"chosen_minus_control{suffix}" in entry:
                    chosen = entry[f"chosen_minus_control{suffix}"]
                    picked = sum(model == entry["best"] for model in chosen["chose"].values())
                    cells = [_delta(chosen["tta"].get(f"{t}.{m}")) for t, m in HEADLINE.items()]
                    lines += ["", f"What `run` exports by {rule} (workflow/choose.py, on validation per seed): "
                              f"{entry['best']} on {picked} of {len(chosen['chose'])} seeds, else {entry['best_against']}; "
                              f"chosen − {entry['best_against']} on test (tta): " + " | ".join(cells),
                              "", export_line(entry[f"export_within_spread{suffix}"], entry["best_against"])]
            lines += ["", f"Share of the same-step oracle's gain recovered by {entry['best']}: "
                      + _shares(entry.get("oracle_share"), fair_oracle(entry["best"])),
                      f"Share of the matched oracle's gain ({entry.get('matched_oracle')}, against "
                      f"{entry['best_against']}): " + _shares(entry.get("matched_oracle_share"), entry.get("matched_oracle")), ""]
            if "target" in entry:
                lines += [verdict_line(entry["target"]), ""]
        if any(not row.get("preregistered", True) for row in entry["arms"].values()):
            lines += ["Arms marked † were not pre-registered for this label count (post hoc: never chosen as best).", ""]
        lines += ["| arm | head | s/step | split | mode | normal mean ° | depth abs_rel | mIoU |",
                  "|---|---|---|---|---|---|---|---|"]
        for arm, row in entry["arms"].items():
            pace = f"{row['seconds_per_step']:.2f}" if row.get("seconds_per_step") else "–"
            arm = arm if row.get("preregistered", True) else f"{arm} †"
            for split in ("test", "val"):
                for mode in ("tta", "plain"):
                    cells = [_cell(row[split][mode].get(f"{t}.{m}")) for t, m in HEADLINE.items()]
                    lines.append(f"| {arm} | {row['head']} | {pace} | {split} | {mode} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _made_by_line(made_by: dict) -> str:
    earlier = made_by.get("before_made_by_json", {})
    parts = [f"warm-ups at {earlier['warmup']}, arms at {earlier['arms']}"] if earlier else []
    commits = sorted({v["git_commit"][:7] for k, v in made_by.items() if k != "before_made_by_json"})
    return "; ".join(parts + ([f"later stages at {', '.join(commits)} (RUN/made_by.json)"] if commits else [])) or "?"


def _pool(size) -> str:
    return f"{size} rooms" if isinstance(size, int) else str(size)


def _shares(shares: dict | None, oracle: str | None) -> str:
    text = ", ".join(f"{mode} {key} {value:.1%}" for mode, v in (shares or {}).items() for key, value in v.items())
    return text or f"not measured ({oracle} has not run)"


def _cell(value: list | None) -> str:
    return "–" if value is None else f"{value[0]:.4f} ± {value[1]:.4f}"


def _delta(value: list | None) -> str:
    return "–" if value is None else f"{value[0]:+.4f} ± {value[1]:.4f} ({value[2]} wins)"


def write_tables(runs: dict, results: Path, meta: dict, pairing: Pairing = SAME_STEP) -> None:
    summary = summarise(runs, meta.get("creation_calls"), pairing)
    write_json(results / "self_improve.json", {**meta, "labelled": summary})
    text = markdown(summary, meta)
    write_text(results / "self_improve.md", text)
    print(text)
