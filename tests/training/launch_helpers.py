"""Running a `diff2in1` command the way users do under ``accelerate launch`` (CPU processes, gloo)."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import diff2in1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_env() -> dict[str, str]:
    """This interpreter's environment, with this checkout's package first on the path of child processes."""
    source = str(Path(diff2in1.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return env


# Seeds under which Python iterates {"normal", "depth", "semseg"} in different orders (checked by the tests).
HASH_SEEDS = (1, 2)


def accelerate_launch(args: list[str], processes: int = 2, timeout: float = 300,
                      hash_seeds: tuple[int, ...] | None = None) -> subprocess.CompletedProcess:
    """`accelerate launch --multi_gpu --num_processes N -m diff2in1.cli.main ARGS` on CPU (gloo).

    ``hash_seeds``: process r runs with ``PYTHONHASHSEED=hash_seeds[r]``, as processes do by chance when
    Python draws their seeds, so set iteration differs between them.
    """
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_free_port())]
    env = launch_env()
    if hash_seeds is None:
        command += ["-m", "diff2in1.cli.main", *args]
    else:
        env["DIFF2IN1_TEST_HASH_SEEDS"] = ",".join(str(seed) for seed in hash_seeds)
        command += [str(Path(__file__).with_name("hash_seeded_main.py")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def set_order(seed: int, names: tuple[str, ...] = ("normal", "depth", "semseg")) -> list[str]:
    """The order in which a Python started with ``PYTHONHASHSEED=seed`` iterates a set of ``names``."""
    code = f"print(','.join({set(names)!r}))"
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": str(seed)},
                            capture_output=True, text=True, check=True)
    return result.stdout.strip().split(",")


def saved_processes(state: Path) -> int:
    """How many processes a train state was gathered from (one random-state row each).

    A launch whose processes never joined trains like one process on each and passes every comparison
    with the single-process run; this is what tells the two apart.
    """
    from diff2in1.fileio import load_tensors

    return int(load_tensors(state / "rng.safetensors")["cpu"].shape[0])


def gradient_gap(a: Path, b: Path) -> float:
    """Largest difference of Adam's first moments (the averaged gradients) of two train states, relative
    to their largest entry.

    Weights are the wrong thing to compare between 1 and N processes: a weight whose gradient is float
    rounding (a conv bias in front of a GroupNorm, say) gets a full-lr Adam step whose sign the
    all-reduce's rounding decides. A process training on the wrong rows moves the moments by ~1.
    """
    from diff2in1.fileio import load_tensors

    x, y = load_tensors(a / "optimizer.safetensors"), load_tensors(b / "optimizer.safetensors")
    moments = [k for k in x if k.endswith(".exp_avg")]
    assert moments, f"{a}: no Adam moments"
    return max(float((x[k] - y[k]).abs().max()) for k in moments) / max(float(x[k].abs().max()) for k in moments)


def log_steps(path: Path) -> list[int]:
    with open(path, newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


def log_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# Runs the command in a child process that SIGKILLs itself right after logging step KILL_AT: no clean-up,
# no final save, as when a job is pre-empted.
KILLER = """
import os, signal, sys
from diff2in1.training import loop
write = loop.CsvLog.write
def write_then_die(self, row):
    write(self, row)
    if self.path.name == "log.csv" and int(row["step"]) == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
loop.CsvLog.write = write_then_die
from diff2in1.cli.main import main
main(sys.argv[2:])
"""


def run_killed(argv: list[str], step: int) -> None:
    result = subprocess.run([sys.executable, "-c", KILLER, str(step), *argv], env=launch_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
