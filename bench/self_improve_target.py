"""The pre-registered target of a self-improvement round, checked on the best arm's paired test differences,
and the guarantee `run`'s choice must keep: its export is never worse than the control by more than the seed
spread.

Round 3's manifest (bench/preregistered/self_improve-round3.json, "targets") fixed it before any result:
at 25 and 100 labels the best arm beats its matched control on normal mean error and depth abs_rel by more
than 2 paired standard deviations, on at least 4 of 5 seeds, losing at most 0.002 mIoU (flip averaging).
"""

from __future__ import annotations

from diff2in1.tasks import TASK_SPECS

MIOU_BOUND = 0.002  # the most mIoU a best arm may lose against its control, in the choice and in the target
SD_MULTIPLE = 2.0
MIN_WINS = 4
SEEDS = 5
LABEL_COUNTS = ("25", "100")
ERRORS = ("normal.mean", "depth.abs_rel")


def signed_worse(key: str, delta: float) -> float:
    """``delta`` (arm − control on ``key``, "task.metric") signed so that positive is worse, by the direction of
    the task's headline metric in the task registry."""
    task, metric = key.split(".", 1)
    name, higher_is_better = TASK_SPECS[task].headline
    if metric != name:
        raise ValueError(f"{key}: the direction is known for {task}'s headline metric {name} only")
    return -delta if higher_is_better else delta


def target_verdict(best_minus_control: dict, seeds_paired: int) -> dict:
    """{"checks": {metric: passed}, "seeds": paired seeds, "required": SEEDS, "complete": all SEEDS paired, "met": every check
    passed on all SEEDS seeds} from ``best_minus_control`` ({tta: {task.metric: [mean, std, wins]}}).

    A check allows at most SEEDS − MIN_WINS lost seeds, so with fewer seeds paired it says whether the
    seeds so far still allow it; the target is met only once all SEEDS are paired."""
    tta = best_minus_control.get("tta", {})
    checks = {}
    for key in ERRORS:
        if key in tta:
            mean, std, wins = tta[key]
            losses = seeds_paired - wins
            checks[key] = mean < 0 and -mean > SD_MULTIPLE * std and losses <= SEEDS - MIN_WINS
    if "semseg.miou" in tta:
        checks["semseg.miou"] = tta["semseg.miou"][0] >= -MIOU_BOUND
    complete = seeds_paired >= SEEDS
    return {"checks": checks, "seeds": seeds_paired, "required": SEEDS, "complete": complete,
            "met": complete and len(checks) == len(ERRORS) + 1 and all(checks.values())}


def verdict_line(verdict: dict) -> str:
    """One sentence for the results file: met, not met, or pending, with each check."""
    checks = ", ".join(f"{key} {'passes' if ok else 'fails'}" for key, ok in verdict["checks"].items())
    if not verdict["complete"]:
        state = f"pending ({verdict['seeds']} of {SEEDS} seeds paired; so far)"
    else:
        state = "met" if verdict["met"] else "not met"
    return (f"Pre-registered target (better than the matched control by more than {SD_MULTIPLE:g} paired std on "
            f"normals and depth, at least {MIN_WINS} of {SEEDS} seeds, at most {MIOU_BOUND} mIoU lost): "
            f"**{state}**; {checks}.")


def export_within_spread(per_seed: dict[str, dict[str, float]], control: dict[str, list[float]]) -> dict:
    """{task.metric: {"worst", "spread", "within"}}: the worst seed's difference of run's export from the
    control on test (positive = worse, whatever the metric's direction), the control's std over seeds, and
    whether the worst stays within it."""
    out = {}
    for key, deltas in per_seed.items():
        if key not in control or not deltas:
            continue
        worst = max(signed_worse(key, delta) for delta in deltas.values())
        spread = control[key][1]
        out[key] = {"worst": worst, "spread": spread, "within": worst <= spread}
    return out


def export_line(check: dict, control: str) -> str:
    """One sentence: the worst seed of run's export against the control, beside the control's seed spread."""
    if not check:
        return f"`run`'s export is not checked yet: {control} has run on fewer than 2 seeds, so it has no seed spread."
    parts = [f"{key} {value['worst']:+.4f} (spread {value['spread']:.4f}{'' if value['within'] else ', BEYOND'})"
             for key, value in check.items()]
    state = "within" if all(value["within"] for value in check.values()) else "not within"
    return (f"Worst seed of `run`'s export against {control} (positive = worse), beside {control}'s std over "
            f"seeds: {', '.join(parts)}: **{state} the seed spread**.")
