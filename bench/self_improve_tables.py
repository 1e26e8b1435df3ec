"""Tables of bench/self_improve.py: per-arm means, paired differences against each arm's control, oracle shares.

Choices are made on the validation split and reported on test: each arm's head (θE or θC) is the one with
the lower mean validation normal error over seeds (with flip averaging), and "best" is the pre-registered arm
other than the controls and the oracles with the lowest such error paired against its control, among the
arms that lose at most 0.002 validation mIoU against it (MIOU_BOUND; all arms when none does).
Which control and oracle an arm is paired with is a ``Pairing``: from round 3 the matched-compute ones
(self_improve_matched.py); an arm it does not list is paired as in round 2, with the same-step control and
oracle that start where it starts (a second-round arm, "*_round2", with control_round2 and oracle_round2).
``oracle_share`` stays the round-2 measure, against the same-step control and oracle.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from diff2in1.fileio import read_json, write_json
from diff2in1.tasks import TASK_SPECS
from diff2in1.workflow.choose import DEFAULT_RULE, RULES, choose
from self_improve_arms import is_reference
from self_improve_target import (
    LABEL_COUNTS,
    MIOU_BOUND,
    export_within_spread,
    signed_worse,
    target_verdict,
)

HEADLINE = {task: TASK_SPECS[task].headline[0] for task in ("normal", "depth", "semseg")}
ROUND2 = "_round2"
LONG = "_long"
PAIRED_SUFFIXES = (ROUND2, LONG)  # arms that start or run past the control pair with control<suffix>, oracle<suffix>
STRICT_RULE = next(rule for rule in RULES if rule != DEFAULT_RULE)  # no_task_lost
BIGGER_CONTROLS = ("control16", "control_long")  # more real images per step, more steps: best − each


def fair_control(arm: str) -> str:
    """The control that had every advantage ``arm`` had: the same start, steps, views and real images."""
    for suffix in PAIRED_SUFFIXES:
        if arm.endswith(suffix) and arm != f"control{suffix}":
            return f"control{suffix}"
    return "control"


def fair_oracle(arm: str) -> str:
    return next((f"oracle{suffix}" for suffix in PAIRED_SUFFIXES if arm.endswith(suffix)), "oracle")


@dataclass(frozen=True)
class Pairing:
    """Each arm's control and oracle, and the arms a round pre-registered.

    controls, oracles: {arm: its control / oracle}; arms not listed get the same-step ones (fair_control).
    preregistered: {label count: [arm]}; None when no manifest applies (every arm counts as registered).
    """
    controls: dict[str, str] = field(default_factory=dict)
    oracles: dict[str, str] = field(default_factory=dict)
    preregistered: dict[str, list[str]] | None = None

    def control(self, arm: str) -> str:
        return self.controls.get(arm, fair_control(arm))

    def oracle(self, arm: str) -> str:
        return self.oracles.get(arm, fair_oracle(arm))

    def registered(self, count: str, arm: str) -> bool:
        return self.preregistered is None or arm in self.preregistered.get(count, [])


SAME_STEP = Pairing()


def collect(work: Path, labelled: list[int], seeds: list[int], arms: list[str]) -> dict:
    """{L: {seed: {arm: scores.json}}} of every arm scored so far."""
    runs: dict = {}
    for count in labelled:
        for seed in seeds:
            for arm in arms:
                path = work / f"L{count}" / f"s{seed}" / arm / "scores.json"
                if path.is_file():
                    scores = read_json(path)
                    scores["seconds_per_step"] = _seconds_per_step(path.parent / "log.csv")
                    runs.setdefault(str(count), {}).setdefault(str(seed), {})[arm] = scores
    return runs


def same_scores(a: dict, b: dict, rel_tol: float = 1e-4) -> bool:
    """Two runs' scores agree on every split, head, task and metric (float noise aside)."""
    import math

    def leaves(tree: dict, prefix: str = "") -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in tree.items():
            if isinstance(value, dict):
                out.update(leaves(value, f"{prefix}{key}/"))
            elif isinstance(value, (int, float)) and key != "seconds_per_step":
                out[prefix + key] = float(value)
        return out
    left, right = leaves({k: a.get(k, {}) for k in ("val", "test")}), leaves({k: b.get(k, {}) for k in ("val", "test")})
    return left.keys() == right.keys() and all(math.isclose(left[k], right[k], rel_tol=rel_tol, abs_tol=1e-6)
                                               for k in left)


def merge_stored(runs: dict, stored: dict) -> tuple[dict, list[str], list[str]]:
    """The work folder's runs, completed by the runs an earlier results file recorded.

    The results file outlives the work folder (a new machine starts with an empty one). A stored run of a
    seed is kept where the work folder has no run of that arm, and only if the work folder has no run of that
    seed or a warm-up that scores as the stored warm-up did: arms are paired by seed, so they must all
    start from the same warm-up. Returns (runs, kept as "L/seed/arm", dropped likewise)."""
    merged = {count: {seed: dict(arms) for seed, arms in seeds.items()} for count, seeds in runs.items()}
    kept, dropped = [], []
    for count, seeds in stored.items():
        for seed, arms in seeds.items():
            fresh = merged.setdefault(count, {}).setdefault(seed, {})
            pairable = not fresh or ("warmup" in fresh and "warmup" in arms and same_scores(fresh["warmup"], arms["warmup"]))
            for arm, scores in arms.items():
                if arm in fresh:
                    continue
                (kept if pairable else dropped).append(f"L{count}/s{seed}/{arm}")
                if pairable:
                    fresh[arm] = scores
            if not fresh:
                del merged[count][seed]
    return merged, kept, dropped


def merge_made_by(fresh: dict, earlier: dict, kept: list[str]) -> dict:
    """Who made each stage: the work folder's records (``fresh``), completed by the earlier results file's for
    the seeds whose stored runs were kept (``kept``, from merge_stored), both their scored arms and the stages
    those arms started from (the extra heads' warm-ups), which have no scores of their own."""
    kept_seeds = {run.rsplit("/", 1)[0] for run in kept}
    out = {run: by for run, by in earlier.items() if run.rsplit("/", 1)[0] in kept_seeds}
    out.update(fresh)
    if any(run not in earlier for run in kept) and "before_made_by_json" in earlier:
        out["before_made_by_json"] = earlier["before_made_by_json"]
    return out


def _seconds_per_step(log: Path) -> float | None:
    """Wall seconds per training step of a run (its log's last row; the machine was shared, so a rough figure)."""
    import csv

    if not log.is_file():
        return None
    rows = list(csv.DictReader(open(log)))
    return float(rows[-1]["seconds"]) / float(rows[-1]["step"]) if rows and rows[-1].get("seconds") else None


def _value(scores: dict, split: str, head: str, tta: bool, task: str) -> float | None:
    name = head + ("_tta" if tta else "")
    return scores.get(split, {}).get(name, {}).get(task, {}).get(HEADLINE[task])


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def choose_head(seeds: dict, arm: str) -> str:
    """θE or θC, whichever has the lower mean validation normal error with flip averaging."""
    def val(head: str) -> float:
        values = [_value(s[arm], "val", head, True, "normal") for s in seeds.values() if arm in s]
        values = [v for v in values if v is not None]
        return statistics.fmean(values) if values else float("inf")
    return min(("theta_c", "theta_e"), key=val) if arm != "warmup" else "theta_e"


def arm_table(seeds: dict) -> dict:
    """{arm: {head, seeds, split: {tta|plain: {task: [mean, std]}}}}."""
    # rounds 1-2's arms in their order, then the rest by name: a set's order changes with the hash seed
    arms = sorted({a for s in seeds.values() for a in s},
                  key=lambda a: (HEAD_ORDER.index(a) if a in HEAD_ORDER else len(HEAD_ORDER), a))
    out = {}
    for arm in arms:
        head = choose_head(seeds, arm)
        done = [s for s in seeds.values() if arm in s]
        times = [s[arm].get("seconds_per_step") for s in done if s[arm].get("seconds_per_step")]
        entry: dict = {"head": head, "seeds": len(done),
                       "seconds_per_step": statistics.fmean(times) if times else None}
        for split in ("val", "test"):
            entry[split] = {}
            for mode, tta in (("tta", True), ("plain", False)):
                entry[split][mode] = {f"{t}.{m}": list(_mean_std([_value(s[arm], split, head, tta, t) for s in done]))
                                      for t, m in HEADLINE.items() if _value(done[0][arm], split, head, tta, t) is not None}
        out[arm] = entry
    return out


HEAD_ORDER = ("warmup", "control", "control16", "release", "created", "created_pool", "created_pool_weighted", "unlabelled",
              "unlabelled_tau", "unlabelled_flip", "unlabelled_weighted", "unlabelled_weighted_tau", "unlabelled_shifts",
              "unlabelled_shifts_tau", "created_pool_shifts", "created_pool_shifts_tau",
              "unlabelled_heads", "unlabelled_heads_geometry", "created_pool_heads", "created_pool_heads_geometry",
              "created_pool_heads6_geometry", "created_pool_heads_geometry_p16",
              "control_long", "created_pool_head1_long", "created_pool_heads3x1000_long",
              "created_pool_heads3x1000_p16_long", "oracle",
              "control_round2", "unlabelled_weighted_round2", "oracle_round2")


# Created images and the real photos they were created from, each labelled by the same teacher.
CREATED_VS_REAL = {"created_pool": "unlabelled", "created_pool_weighted": "unlabelled_weighted",
                   "created_pool_shifts": "unlabelled_shifts", "created_pool_shifts_tau": "unlabelled_shifts_tau",
                   "created_pool_heads": "unlabelled_heads", "created_pool_heads_geometry": "unlabelled_heads_geometry"}


def best_arm(table: dict, seeds: dict, pairing: Pairing = SAME_STEP) -> str | None:
    """The arm with the lowest validation normal error with flip averaging, paired against its control on
    the seeds both have (seeds differ by more than arms do, so unpaired means of unequal seed sets
    mislead), among the arms that lose at most MIOU_BOUND validation mIoU (all arms when none does). Only
    pre-registered arms (``table[arm]["preregistered"]``) that ran on every seed of their control compete: a
    stopped arm's one lucky seed must not win, nor an arm added after results were seen."""
    def complete(arm: str) -> bool:
        return all(arm in s for s in seeds.values() if pairing.control(arm) in s)
    candidates = [a for a in table if not is_reference(a) and table[a].get("preregistered", True)
                  and pairing.control(a) in table and complete(a)]
    if not candidates:
        return None

    def val_gain(arm: str, key: str) -> float:
        against = pairing.control(arm)
        deltas = paired(seeds, arm, against, (table[arm]["head"], table[against]["head"]), split="val")
        return deltas["tta"][key][0]
    keeping_miou = [a for a in candidates if val_gain(a, "semseg.miou") >= -MIOU_BOUND]
    return min(keeping_miou or candidates, key=lambda arm: val_gain(arm, "normal.mean"))


def paired(seeds: dict, arm: str, against: str, heads: tuple[str, str], split: str = "test") -> dict:
    """{tta|plain: {task.metric: [mean, std, wins]}} of arm − against per seed (negative = better for errors)."""
    done = [s for s in seeds.values() if arm in s and against in s]
    out: dict = {}
    for mode, tta in (("tta", True), ("plain", False)):
        out[mode] = {}
        for task, metric in HEADLINE.items():
            deltas = [_value(s[arm], split, heads[0], tta, task) - _value(s[against], split, heads[1], tta, task)
                      for s in done if _value(s[arm], split, heads[0], tta, task) is not None]
            if deltas:
                out[mode][f"{task}.{metric}"] = _paired_summary(deltas, f"{task}.{metric}")
    return out


def _paired_summary(deltas: list[float], key: str) -> list:
    """[mean, std, wins] of per-seed differences on ``key`` ("task.metric"); a win is a seed where the arm is better."""
    wins = sum(signed_worse(key, d) < 0 for d in deltas)
    return [*_mean_std(deltas), wins]


def chosen_minus_control(seeds: dict, arm: str, against: str, heads: tuple[str, str],
                         rule: str = DEFAULT_RULE) -> dict:
    """What `diff2in1 run` would export on each seed, against the control: ``arm`` or its control, chosen on
    validation (flip averaging) by ``rule`` (workflow/choose.py; the default is run's), then scored on test.

    {"chose": {seed: arm or control}, tta|plain: {task.metric: [mean, std, wins]}, "per_seed": {task.metric:
    {seed: difference with flip averaging}}}; a seed where the control is chosen differs by 0."""
    done = {seed: s for seed, s in seeds.items() if arm in s and against in s}
    chose = {seed: arm if choose({"diff2in1": s[arm]["val"][f"{heads[0]}_tta"],
                                  "control": s[against]["val"][f"{heads[1]}_tta"]}, rule)[0] == "diff2in1"
             else against
             for seed, s in sorted(done.items(), key=lambda item: int(item[0]))}
    out: dict = {"chose": chose, "per_seed": {}}
    for mode, tta in (("tta", True), ("plain", False)):
        out[mode] = {}
        for task, metric in HEADLINE.items():
            deltas = {seed: (_value(s[arm], "test", heads[0], tta, task) - _value(s[against], "test", heads[1], tta, task))
                      if chose[seed] == arm else 0.0 for seed, s in done.items()
                      if _value(s[arm], "test", heads[0], tta, task) is not None}
            if deltas:
                out[mode][f"{task}.{metric}"] = _paired_summary(list(deltas.values()), f"{task}.{metric}")
                if tta:
                    out["per_seed"][f"{task}.{metric}"] = deltas
    return out


def oracle_share(table: dict, arm: str, control: str | None = None, oracle: str | None = None) -> dict:
    """(control − arm) / (control − oracle) on test means, per mode and error metric; by default with the
    arm's same-step control and oracle (round 2's measure)."""
    out: dict = {}
    names = (control or fair_control(arm), arm, oracle or fair_oracle(arm))
    if not all(name in table for name in names):
        return out
    for mode in ("tta", "plain"):
        out[mode] = {}
        for key in ("normal.mean", "depth.abs_rel"):
            control_value, best, oracle_value = (table[a]["test"][mode].get(key, [None])[0] for a in names)
            if None not in (control_value, best, oracle_value) and control_value != oracle_value:
                out[mode][key] = (control_value - best) / (control_value - oracle_value)
    return out


def matched_oracle_share(table: dict, arm: str, pairing: Pairing) -> dict:
    """oracle_share against the arm's own control and its matched oracle (which has that control's budget)."""
    return oracle_share(table, arm, pairing.control(arm), pairing.oracle(arm))


def creation_cost(minus_control: dict, calls: dict) -> list[dict]:
    """The arms on created images, fewest UNet calls per created image first, each with its paired gain
    against its fair control (``minus_control``: summarise's per-arm table)."""
    rows = [{"arm": arm, **calls[arm], "minus_control": deltas} for arm, deltas in minus_control.items() if arm in calls]
    return sorted(rows, key=lambda row: (row["unet_calls"], row["arm"]))


def summarise(runs: dict, creation_calls: dict | None = None, pairing: Pairing = SAME_STEP) -> dict:
    labelled = {}
    # By label count, not by which runs the work folder happened to hold first: the tables keep their order.
    for count, seeds in sorted(runs.items(), key=lambda item: int(item[0])):
        table = arm_table(seeds)
        for arm, row in table.items():
            row["preregistered"] = pairing.registered(count, arm)
        entry: dict = {"arms": table, "seeds": sorted(int(s) for s in seeds)}
        best = best_arm(table, seeds, pairing)
        if best:
            entry.update(_best_entry(table, seeds, best, pairing))
            if pairing.preregistered is not None and count in LABEL_COUNTS:
                paired_seeds = sum(best in s and entry["best_against"] in s for s in seeds.values())
                entry["target"] = target_verdict(entry["best_minus_control"], paired_seeds)
        for arm in table:
            other = pairing.control(arm)
            if arm != "warmup" and other != arm and other in table:
                entry.setdefault("minus_control", {})[arm] = paired(seeds, arm, other,
                                                                     (table[arm]["head"], table[other]["head"]))
                if other != "control":
                    entry.setdefault("paired_with", {})[arm] = other
        sweep = creation_cost(entry.get("minus_control", {}), creation_calls or {})
        if len(sweep) > 1:
            entry["creation_cost"] = sweep
        labelled[count] = entry
    return labelled


def _best_entry(table: dict, seeds: dict, best: str, pairing: Pairing) -> dict:
    """The best arm against its control, its oracle shares, and the round-2 comparisons that ran."""
    against = pairing.control(best)
    heads = (table[best]["head"], table[against]["head"])
    entry = {"best": best, "best_against": against, "best_minus_control": paired(seeds, best, against, heads),
             "oracle_share": oracle_share(table, best), "matched_oracle": pairing.oracle(best),
             "matched_oracle_share": matched_oracle_share(table, best, pairing),
             "chosen_minus_control": chosen_minus_control(seeds, best, against, heads)}
    spread = table[against]["test"]["tta"] if table[against]["seeds"] > 1 else {}  # one seed has no spread
    entry["export_within_spread"] = export_within_spread(entry["chosen_minus_control"]["per_seed"], spread)
    # run's other rule (choose_by: no_task_lost), reported beside the default for users who weigh a loss on
    # any task above a gain on the others
    strict = chosen_minus_control(seeds, best, against, heads, STRICT_RULE)
    entry[f"chosen_minus_control_{STRICT_RULE}"] = strict
    entry[f"export_within_spread_{STRICT_RULE}"] = export_within_spread(strict["per_seed"], spread)
    for other in BIGGER_CONTROLS:
        if other in table and against == "control":
            entry[f"best_minus_{other}"] = paired(seeds, best, other, (heads[0], table[other]["head"]))
    for created, real in CREATED_VS_REAL.items():  # created images against the real ones, same teacher
        if created in table and real in table:
            entry[f"{created}_minus_{real}"] = paired(seeds, created, real, (table[created]["head"], table[real]["head"]))
    return entry


def demo_spread(seeds: dict, arm: str, head: str = "theta_c") -> dict[str, dict[str, float]]:
    """{task: {metric: std over seeds of (arm θC − control θC)}} on test, without flip averaging (``head``
    theta_c) or with it (theta_c_tta): the demo's report colours a change only beyond the spread scored alike."""
    done = [s for s in seeds.values() if arm in s and "control" in s and head in s[arm]["test"]]
    if len(done) < 2:
        return {}
    out: dict = {}
    for task, metrics in done[0][arm]["test"][head].items():
        for metric in metrics:
            deltas = [s[arm]["test"][head][task][metric] - s["control"]["test"][head][task][metric] for s in done]
            out.setdefault(task, {})[metric] = statistics.stdev(deltas)
    return out


def write_demo_spread(runs: dict, arm: str, target: Path, meta: dict) -> None:
    spread = demo_spread(runs.get("100", {}), arm)
    if spread:
        write_json(target, {"spread": spread, "spread_tta": demo_spread(runs["100"], arm, "theta_c_tta"), "arm": arm,
                            "labelled": 100, "seeds": len(runs["100"]), **meta})
