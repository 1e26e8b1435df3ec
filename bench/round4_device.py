"""Round 4 of the self-improvement benchmark on one GPU machine: every (labels, seed) at once, time-boxed,
resumable across calls.

    PYTHONPATH=$PWD/src:$PWD/bench DIFF2IN1_GIT_COMMIT=<commit> python bench/round4_device.py OUT --seconds 540
    python bench/round4_device.py OUT --rehearse     # the same orchestration on the CPU at toy size

Round 4 (bench/preregistered/self_improve-round4.json) trains the UNet's LoRA adapters in the arm and in its
matched control, an estimated 3 hours of one CPU core per (labels, seed), 30 for the round. Here each
(labels, seed) of the manifest is one ``bench/self_improve.py`` process, all started together and sharing the GPU, each with its
own log. The rooms are generated once before they start. At ``--seconds`` less ``--collect-seconds`` the
unfinished ones are stopped. Every stage resumes, and the work folder lies under ``runs/``, which git ignores
and a warm device machine keeps between calls, so the next call goes on where this one stopped. Then the
finished runs are tabulated (``--collect-only``) and OUT gets ``summary.txt`` (one line per process: its exit
status, seconds, the last arm it started), ``logs/`` and the results folder's files.

``--rehearse`` runs two seeds on generated toy rooms and a tiny random pixel UNet, with stages of 2 steps
and the arms named for that budget (outside the manifest), to check the orchestration before device time
is spent.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
MANIFEST = BENCH / "preregistered" / "self_improve-round4.json"
REHEARSAL_ARMS = ("control", "oracle", "lora_created_pool_geometry_p16", "control_b18_s2_from_lora_warmup")


@dataclass
class Job:
    """One bench/self_improve.py process: one (labels, seed)."""
    labelled: int
    seed: int
    command: list[str]
    log: Path
    process: subprocess.Popen | None = None
    started: float = 0.0
    ended: float = 0.0
    stopped: bool = False

    @property
    def name(self) -> str:
        return f"L{self.labelled}-s{self.seed}"


def plan(manifest: dict) -> list[tuple[int, int]]:
    """Every (labels, seed) the manifest registers, the fewest labels first."""
    return [(int(n), seed) for n in sorted(manifest["labelled"], key=int) for seed in manifest["seeds"]]


def bench_argv(args: argparse.Namespace, labelled: list[int], seeds: list[int], extra: list[str]) -> list[str]:
    """self_improve.py's arguments: the manifest's arms on the device, the toy set when rehearsing."""
    common = ["--labelled", *map(str, labelled), "--seeds", *map(str, seeds), "--work", str(args.work / "work")]
    if not args.rehearse:
        return ["--manifest", str(MANIFEST), *common, *extra]
    toy = args.work / "toy"
    return ["--manifest", "", "--dataset", "rooms", "--data", str(toy / "rooms"), "--backbone", str(toy / "unet"),
            "--config", str(toy / "config.yaml"), "--results", str(args.work / "results"), "--arms",
            *REHEARSAL_ARMS, *common, *extra]


def bench_command(args: argparse.Namespace, labelled: list[int], seeds: list[int], extra: list[str]) -> list[str]:
    """The process to start: self_improve.py itself, or this file as a toy-sized child when rehearsing."""
    script = [str(BENCH / "self_improve.py")] if not args.rehearse else [str(Path(__file__).resolve()), "--child"]
    return [sys.executable, *script, *bench_argv(args, labelled, seeds, extra)]


def make_inputs(args: argparse.Namespace) -> None:
    """The data every process reads, made once before they start (each would otherwise make its own)."""
    if args.rehearse:
        make_toy_inputs(args.work / "toy")
        return
    from self_improve_data import make_rooms
    from self_improve_runner import seed_config

    work = args.work / "work"
    make_rooms(work, seed_config(work, 25, 0).rooms)


def make_toy_inputs(toy: Path) -> None:
    """Rooms at 16x16 (264 training images: labels, 250 for validation, the rest the pool), a tiny random
    pixel UNet, and a run config with small heads."""
    import yaml

    from diff2in1.backbones.tiny import save_tiny_pixel_unet
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    if not (toy / "rooms" / "meta.json").is_file():
        generate_rooms(RoomsConfig(out=str(toy / "rooms"), num=280, size=16, seed=3, test_fraction=0.05),
                       progress=False)
    if not (toy / "unet").is_dir():
        save_tiny_pixel_unet(toy / "unet")
    (toy / "config.yaml").write_text(yaml.safe_dump({"batch_size": 2, "channels": 8, "warmup": {"steps": 2},
                                                     "create": {"steps": 4, "batch_size": 4},
                                                     "improve": {"teacher_every": 1}}))


def run_as_toy_child(argv: list[str]) -> int:
    """self_improve.py with stages and warm-ups of 2 steps (a rehearsal child)."""
    import self_improve
    import self_improve_runner

    self_improve_runner.STAGE2_STEPS = 2
    self_improve_runner.LORA_WARMUP_STEPS = 2
    self_improve_runner.BENCH_IMPROVE = {**self_improve_runner.BENCH_IMPROVE, "steps": 2, "views": 2}
    return self_improve.main(argv)


def start(jobs: list[Job]) -> None:
    threads = str(max(1, (os.cpu_count() or 1) // len(jobs)))
    for job in jobs:
        job.log.parent.mkdir(parents=True, exist_ok=True)
        job.started = time.monotonic()
        with job.log.open("ab") as log:  # a resumed call appends to the same log
            job.process = subprocess.Popen(job.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                           env={**os.environ, "OMP_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"})
        print(f"started {job.name}: {' '.join(job.command)}", flush=True)


def wait_until(jobs: list[Job], deadline: float) -> None:
    """Wait for every job, stopping those still running at ``deadline`` (their whole process group)."""
    while time.monotonic() < deadline and any(job.process.poll() is None for job in jobs):
        time.sleep(2)
        for job in jobs:
            if job.process.poll() is not None and not job.ended:
                job.ended = time.monotonic()
                print(f"{job.name} ended, exit {job.process.returncode}, {job.ended - job.started:.0f} s", flush=True)
    for job in jobs:
        if job.process.poll() is None:
            job.stopped = True
            os.killpg(job.process.pid, signal.SIGTERM)
    for job in jobs:
        try:
            job.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(job.process.pid, signal.SIGKILL)
            job.process.wait()
        job.ended = job.ended or time.monotonic()


def last_arm(log: Path) -> str:
    """The last arm a log says its process started ('L25 s0: ARM' lines), or the warm-up."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("L") and ": " in line]
    return lines[-1].split(": ", 1)[1].strip() if lines else "warmup"


def summary_line(job: Job) -> str:
    status = "stopped at the deadline" if job.stopped else f"exit {job.process.returncode}"
    return f"{job.name} {status} {job.ended - job.started:.0f}s last arm: {last_arm(job.log)}"


def collect(args: argparse.Namespace, jobs: list[Job], out: Path, seconds: float) -> int:
    """Tabulate what has finished, then copy the results folder into OUT/results."""
    labelled = sorted({job.labelled for job in jobs})
    seeds = sorted({job.seed for job in jobs})
    command = bench_command(args, labelled, seeds, ["--collect-only"])
    with (out / "logs" / "collect.log").open("ab") as log:
        try:
            rc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=max(seconds, 10)).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    results = args.work / "results" if args.rehearse else BENCH / "results" / "round4"
    if results.is_dir():
        shutil.copytree(results, out / "results", dirs_exist_ok=True)
    return rc


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="where summary.txt, logs/ and results/ go")
    parser.add_argument("--seconds", type=float, default=540, help="when to be done, collecting included")
    parser.add_argument("--collect-seconds", type=float, default=90, help="kept at the end for --collect-only")
    parser.add_argument("--work", type=Path, default=Path("runs/round4"), help="work folder (kept between calls)")
    parser.add_argument("--rehearse", action="store_true", help="two seeds at toy size on the CPU")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--child"]:
        return run_as_toy_child(sys.argv[2:])
    args = parse_args(argv)
    deadline = time.monotonic() + args.seconds
    args.work = args.work.resolve()
    out = args.out.resolve()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    from self_improve_prereg import read_manifest

    pairs = [(4, 0), (4, 1)] if args.rehearse else plan(read_manifest(MANIFEST))
    make_inputs(args)
    jobs = [Job(n, s, bench_command(args, [n], [s], []), out / "logs" / f"L{n}-s{s}.log") for n, s in pairs]
    start(jobs)
    wait_until(jobs, deadline - args.collect_seconds)
    lines = [summary_line(job) for job in jobs]
    rc = collect(args, jobs, out, deadline - time.monotonic())
    lines.append(f"collect exit {rc}")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    finished = all(job.process.returncode == 0 and not job.stopped for job in jobs)
    return 0 if finished and rc == 0 else 3


if __name__ == "__main__":
    sys.exit(main())
