"""Pre-registration of a benchmark round: its arms, their settings, label counts and seeds, fixed in a
manifest committed before any of the round's results exist.

    python bench/self_improve_prereg.py             # writes bench/preregistered/self_improve-round3.json
    python bench/self_improve_prereg.py --round 4   # the learning backbone: self-improve-round4.json

The manifest records the git commit it was written at (the code that defines the arms). The tables treat
an arm as pre-registered at a label count only when the manifest lists it there with the settings the
code gives it now; any other arm is post hoc (``preregistered: false``) and never chosen as best.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from self_improve_arms import (
    ARMS,
    BEST_AT_100,
    CONTRIBUTIONS,
    LEARNING_ARM,
    LORA_WARMUP_STEPS,
    STAGE2_STEPS,
    TEACHER_EVERY,
)
from self_improve_matched import Budget, matched_control, matched_oracle

MANIFEST = Path(__file__).parent / "preregistered" / "self_improve-round3.json"
ROUND4_MANIFEST = MANIFEST.with_name("self_improve-round4.json")
SEEDS = (0, 1, 2, 3, 4)  # each its own labelled subset (labelled_seed = seed) and warm-up
SMALL = (25, 800)  # label counts where only the best arm is measured
# The benchmark's settings the arms override (bench/self_improve.yaml: 8 real and 8 pseudo per step, a 1500-step warm-up).
ROUND3_BUDGET = Budget(stage_steps=STAGE2_STEPS, batch_size=8, pseudo_batch_size=8, warmup_steps=1500)
PROTOCOL = {
    "choice": "on the validation split (up to 250 training images outside the labelled set): each arm's head "
              "(θE or θC) by the lower mean normal error with flip averaging, and the best arm as the "
              "pre-registered non-reference arm with the lowest validation normal error paired by seed against "
              "its matched control, among those losing at most 0.002 validation mIoU (all when none does)",
    "matched_control": "the arm's total optimizer steps (its stage, the stage it starts from, its extra heads' "
                       "warm-ups) in one schedule from the warm-up, with as many real images per step as the arm "
                       "has real plus pseudo-labelled ones (bench/self_improve_matched.py)",
    "matched_oracle": "the arm's real images and as many pool photos with ground truth per step over its matched "
                      "control's steps; matched_oracle_share = (control - arm) / (control - oracle) on test",
    "report": "test split, paired by seed, flip averaging on both sides",
    "targets": "at 25 and 100 labels the best arm beats its matched control on normal mean error and depth "
               "abs_rel by more than 2 paired standard deviations, on at least 4 of 5 seeds, losing at most "
               "0.002 mIoU; aim: 50 % of the matched oracle's gain",
    "stage2_steps": STAGE2_STEPS, "teacher_every": TEACHER_EVERY,
}


def round3_plan(budget: Budget = ROUND3_BUDGET) -> dict:
    """{labelled: {count: [arm]}, arms: {arm: settings}}: at 100 labels every contribution with its matched
    control, the best arm's matched oracle, and the same-step control and oracle (the earlier oracle share);
    at 25 and 800 the best arm, its matched control and matched oracle, and the same-step pair."""
    arms = {name: ARMS[name] for name in ("control", "oracle")}
    for name, settings in CONTRIBUTIONS.items():
        arms[name] = settings
        arms.update([matched_control(settings, budget)])
    best_control, best_oracle = matched_control(ARMS[BEST_AT_100], budget), matched_oracle(ARMS[BEST_AT_100], budget)
    arms.update([best_control, best_oracle])
    small = ["control", "oracle", BEST_AT_100, best_control[0], best_oracle[0]]
    return {"labelled": {"25": small, "100": list(arms), "800": small}, "arms": arms}


def round4_plan(budget: Budget = ROUND3_BUDGET) -> dict:
    """The learning backbone at 25 and 100 labels: LEARNING_ARM and its matched control (both from the same
    LoRA warm-up), with the same-step control and oracle of the frozen backbone as references."""
    arms = {name: ARMS[name] for name in ("control", "oracle")}
    arms[LEARNING_ARM] = ARMS[LEARNING_ARM]
    arms.update([matched_control(ARMS[LEARNING_ARM], budget)])
    return {"labelled": {"25": list(arms), "100": list(arms)}, "arms": arms}


ROUND4_PROTOCOL = {
    **{k: v for k, v in PROTOCOL.items() if k != "matched_oracle"},
    "start": f"the arm and its matched control start from the seed's warm-up heads trained {LORA_WARMUP_STEPS} more "
             "steps with rank-8 LoRA adapters on the UNet (the trainable-backbone gate's recipe), and keep training "
             "the adapters; features are streamed through the adapted UNet",
    "targets": "at 25 and 100 labels the arm beats its matched control on normal mean error and depth abs_rel by "
               "more than 2 paired standard deviations, on at least 4 of 5 seeds, losing at most 0.002 mIoU",
}


def git_commit() -> str:
    return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True, cwd=Path(__file__).parent).strip()


def manifest(commit: str, written: str) -> dict:
    plan = round3_plan()
    return {"round": 3, "written_at_commit": commit, "written": written,
            "command": "python bench/self_improve_prereg.py", "seeds": list(SEEDS), "labelled_seed": "the seed",
            "results": "bench/results/round3", "best_at_25_and_800": BEST_AT_100,
            "results_before": {BEST_AT_100: "round 2, seeds 0-2 at 25, 100 and 800 labels, against same-step "
                               "controls (bench/results/self_improve.json): the hypothesis this round tests; "
                               "every other arm of this round had no result"},
            "protocol": PROTOCOL, **plan}


def round4_manifest(commit: str, written: str) -> dict:
    return {"round": 4, "written_at_commit": commit, "written": written,
            "command": "python bench/self_improve_prereg.py --round 4", "seeds": list(SEEDS),
            "labelled_seed": "the seed", "results": "bench/results/round4",
            "results_before": {LEARNING_ARM: "none; the trainable-backbone gate measured LoRA warm-ups only "
                               "(docs/perception/trainable_backbone.md)"},
            "protocol": ROUND4_PROTOCOL, **round4_plan()}


def read_manifest(path: Path) -> dict:
    if not path.is_file():
        raise SystemExit(f"{path}: no pre-registration manifest; write one with bench/self_improve_prereg.py, "
                         "or pass --manifest ''")
    data = json.loads(path.read_text())
    missing = {"labelled", "arms", "seeds", "results", "written_at_commit"} - set(data)
    if missing:
        raise SystemExit(f"{path}: not a pre-registration manifest, it lacks {sorted(missing)}")
    return data


def same_settings(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def preregistered_arms(manifest: dict, registry: dict[str, dict]) -> dict[str, list[str]]:
    """{label count: [arm]} the manifest registered there with the settings ``registry`` gives them now."""
    return {count: [arm for arm in arms if arm in registry and same_settings(manifest["arms"][arm], registry[arm])]
            for count, arms in manifest["labelled"].items()}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round", type=int, choices=(3, 4), default=3)
    parser.add_argument("--out", default="", help="manifest file (default: bench/preregistered/self_improve-roundN.json)")
    args = parser.parse_args(argv)
    target = Path(args.out) if args.out else (MANIFEST if args.round == 3 else ROUND4_MANIFEST)
    if target.exists():
        raise SystemExit(f"{target}: exists; a round's manifest is written once (start a new round's file)")
    from diff2in1.fileio import write_json

    write = manifest if args.round == 3 else round4_manifest
    write_json(target, write(git_commit(), datetime.now(timezone.utc).isoformat(timespec="seconds")))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
