"""Peak memory of warm-up and improve against the number of images, features cached in RAM or on disk.

    .venv/bin/python bench/memory.py                                   # embedded 64x64: 100, 400, 1600 images
    .venv/bin/python bench/memory.py --sizes --sd15-images 2 6 --name memory-cpu-sd15   # SD v1.5, random weights

Every measurement is one stage run in a fresh process (``train_warmup`` / ``train_improve``, as the CLI
runs them) on a procedural rooms set of N training images; peak memory is that process's ru_maxrss
(resident set: RAM it held, page cache not counted). Warm-up runs one epoch at --batch-size (the cache
fills as samples are drawn); improve one epoch of the real pool (--batch-size real + --batch-size created
samples per step; the rooms images stand in for created ones) with 2 views. Speed, at --speed-images: a
disk-cached warm-up of two epochs without flips (the second reads every feature from the cache) against
one uncached epoch (UNet every step); the speed-up is the ratio of their epoch times. Heads at the
warm-up default width.

``sd15``: SD v1.5's architecture with RANDOM weights (nothing is downloaded) in place of the embedded
backbone, 512x512 inputs (the rooms images resized), warm-up only, at a few images: what the cache holds
per image at the size users train at. Writes bench/results/<--name>.json and .md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def rooms(work: Path, num: int) -> Path:
    """A rooms set with ``num`` training images at 64x64 (and a small test split), made once."""
    from diff2in1.data.rooms import RoomsConfig, generate_rooms

    folder = work / f"rooms{num}"
    if not (folder / "meta.json").is_file():
        generate_rooms(RoomsConfig(out=str(folder), num=num + 20, size=64, seed=0, test_fraction=20 / (num + 20)),
                       progress=False)
    return folder


def sd15_backbone(device: str = "cpu"):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from diff2in1.backbones import StableDiffusionBackbone
    from diff2in1.backbones.tiny import write_clip_tokenizer
    from speed_models import SD15_SCHEDULER, SD15_TEXT, SD15_UNET, SD15_VAE  # SD v1.5's published configs

    torch.manual_seed(0)
    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(Path(os.environ["MEMORY_WORK"]) / "tokenizer"))
    return StableDiffusionBackbone(AutoencoderKL(**SD15_VAE), UNet2DConditionModel(**SD15_UNET),
                                   CLIPTextModel(CLIPTextConfig(**SD15_TEXT)), tokenizer, DDIMScheduler(**SD15_SCHEDULER))


def epoch_seconds(log: Path, steps_per_epoch: int) -> list[float]:
    """Wall time of each epoch, from log.csv's cumulative 'seconds'."""
    with open(log, newline="") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    ends = seconds[steps_per_epoch - 1 :: steps_per_epoch]
    return [round(b - a, 2) for a, b in zip([0.0] + ends[:-1], ends)]


def child(job: dict[str, Any]) -> dict[str, Any]:
    """Run one stage as the CLI would; report peak RSS and epoch times."""
    import torch

    torch.set_num_threads(job["threads"])
    from diff2in1.self_improving import improve
    from diff2in1.training import head_training, warmup

    evaluation = "test"
    if job["backbone"] == "sd15":
        backbone = sd15_backbone()
        head_training.open_backbone = lambda *args, **kwargs: backbone
        evaluation = "val"  # none: at 512x512 on a CPU the test split would take longer than the training
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    common = dict(backbone="embedded", data=job["data"], out=job["out"], batch_size=job["batch_size"], progress=False, checkpoint_every=10**6, cache_features=job["storage"] != "uncached",
                  cache_storage="ram" if job["storage"] == "uncached" else job["storage"],
                  num_workers=job["num_workers"], eval_split=evaluation, seed=0)
    per_epoch = job["num"] // job["batch_size"]
    if job["stage"] == "warmup":
        warmup.train_warmup(warmup.WarmupConfig(steps=per_epoch * job["epochs"], flip=job["flip"], **common))
    else:
        improve.train_improve(improve.ImproveConfig(
            steps=per_epoch, warmup=job["warmup"], synthetic=job["data"], pseudo_batch_size=job["batch_size"],
            views=2, eval_flip=False, cache_dir=str(Path(job["out"]) / "features") if job["storage"] == "disk" else "",
            **common))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(peak, 1), "baseline_rss_mb": round(baseline, 1), "worker_peak_rss_mb": round(workers, 1),
            "epoch_s": epoch_seconds(Path(job["out"]) / "log.csv", per_epoch)}


def run_child(job: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MEMORY_WORK": job["work"]}
    started = time.time()
    result = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], env=env, capture_output=True,
                            text=True)
    if result.returncode:
        raise RuntimeError(f"{job['stage']} N={job['num']} {job['storage']} failed:\n{result.stderr[-3000:]}")
    row = {k: job[k] for k in ("backbone", "stage", "num", "storage", "flip")}
    row.update(json.loads(result.stdout.strip().splitlines()[-1]), wall_s=round(time.time() - started, 1))
    print(json.dumps(row), flush=True)
    return row


def warm_checkpoint(args: argparse.Namespace, work: Path) -> str:
    out = work / "warm"
    if not (out / "checkpoint").is_dir():
        run_child({**job_base(args, work), "stage": "warmup", "num": 100, "storage": "ram", "epochs": 1,
                   "data": str(rooms(work, 100)), "out": str(out)})
    return str(out / "checkpoint")


def job_base(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    return {"backbone": "embedded", "batch_size": args.batch_size, "num_workers": args.num_workers,
            "threads": args.threads, "work": str(work), "epochs": 1, "flip": True}


def measure(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    rows, warm = [], warm_checkpoint(args, work) if args.sizes else ""
    for num in args.sizes:
        data = str(rooms(work, num))
        for stage in ("warmup", "improve"):
            for storage in ("ram", "disk"):
                out = work / "runs" / f"{stage}-{num}-{storage}"
                subprocess.run(["rm", "-rf", str(out)], check=True)
                rows.append(run_child({**job_base(args, work), "stage": stage, "num": num, "storage": storage,
                                       "data": data, "out": str(out), "warmup": warm}))
    for storage, epochs in (("disk", 2), ("uncached", 1)) if args.sizes else ():
        out = work / "runs" / f"speed-{args.speed_images}-{storage}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        rows.append(run_child({**job_base(args, work), "stage": "warmup", "num": args.speed_images, "storage": storage,
                               "epochs": epochs, "flip": False, "data": str(rooms(work, args.speed_images)),
                               "out": str(out)}) | {"speed": True})
    for num in args.sd15_images:
        for storage in ("ram", "disk"):
            out = work / "runs" / f"sd15-{num}-{storage}"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            rows.append(run_child({**job_base(args, work), "backbone": "sd15", "stage": "warmup", "num": num,
                                   "storage": storage, "epochs": 1, "batch_size": 2, "data": str(rooms(work, num)),
                                   "out": str(out)}))
    return rows


def summary(rows: list[dict[str, Any]], sizes: list[int], speed_images: int) -> dict[str, Any]:
    """The two targets: disk-cache peak RSS growth from the smallest to the largest N, cached-epoch speed-up."""
    def peak(stage: str, num: int, storage: str, backbone: str = "embedded") -> float:
        return next(r["peak_rss_mb"] for r in rows if (r["backbone"], r["stage"], r["num"], r["storage"]) ==
                    (backbone, stage, num, storage) and not r.get("speed"))

    out: dict[str, Any] = {}
    sd15 = [r for r in rows if r["backbone"] == "sd15"]
    for num in sorted({r["num"] for r in sd15}):
        ram, disk = (next(r["peak_rss_mb"] for r in sd15 if (r["num"], r["storage"]) == (num, s)) for s in ("ram", "disk"))
        out[f"sd15_{num}_images_ram_minus_disk_peak_mb"] = round(ram - disk, 1)
    if not sizes:
        return out
    small, large = min(sizes), max(sizes)
    for stage in ("warmup", "improve"):
        for storage in ("ram", "disk"):
            out[f"{stage}_{storage}_peak_growth_{small}_to_{large}"] = round(peak(stage, large, storage) /
                                                                           peak(stage, small, storage) - 1, 3)
    cached = next(r for r in rows if r.get("speed") and r["storage"] == "disk")
    uncached = next(r for r in rows if r.get("speed") and r["storage"] == "uncached")
    out[f"warmup_cached_epoch_speedup_{speed_images}"] = round(uncached["epoch_s"][0] / cached["epoch_s"][1], 2)
    return out


def machine() -> dict[str, Any]:
    import torch

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True).stdout.strip())
    return {"commit": commit + ("+dirty" if dirty else ""), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "ram_gb": round(memory, 1), "torch": torch.__version__, "load_average": list(os.getloadavg())}


def write_results(args: argparse.Namespace, rows: list[dict[str, Any]], started: float, host: dict) -> Path:
    report = {"command": "python bench/memory.py " + " ".join(sys.argv[1:]), "git_commit": host.pop("commit"),
              "machine": host, "date": datetime.now(timezone.utc).isoformat(),
              "minutes": round((time.time() - started) / 60, 1),
              "targets": {"disk peak RSS growth": "<= 0.20", "cached epoch speed-up": ">= 4"},
              "summary": summary(rows, args.sizes, args.speed_images), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    return write_table(report, RESULTS / f"{args.name}.md")


def write_table(report: dict[str, Any], path: Path) -> Path:
    host = report["machine"]
    lines = [f"# {path.stem}\n\n`{report['command']}` at commit {report['git_commit']}, {host['processor']}, "
             f"{host['cpus']} CPUs, {host['ram_gb']} GB, load {host['load_average'][0]:.1f} before / "
             f"{host.get('load_average_after', [0])[0]:.1f} after, {report['date'][:16]} UTC ({report['minutes']} min)\n",
             "| summary | value | target |", "|---|---|---|"]
    for key, value in report["summary"].items():
        target = "<= 0.20" if "_disk_peak_growth_" in key else (">= 4" if "speedup" in key else "")
        lines.append(f"| {key} | {value} | {target} |")
    lines += ["", "| backbone | stage | images | cache | flips | peak RSS MB | after imports MB | epoch s |",
              "|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['backbone']} | {r['stage']} | {r['num']} | {r['storage']} | {r['flip']} | {r['peak_rss_mb']} | "
                     f"{r['baseline_rss_mb']} | {r['epoch_s']} |")
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 400, 1600], help="training images per run")
    parser.add_argument("--speed-images", type=int, default=400, help="images of the cached vs uncached epochs")
    parser.add_argument("--sd15-images", type=int, nargs="*", default=[], help="SD v1.5-shaped runs at these sizes")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers of the disk-cached runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", default="~/.cache/diff2in1/memory", help="data sets and run folders")
    parser.add_argument("--name", default="memory-cpu", help="results file name under bench/results/")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    work, started, host = Path(args.work).expanduser(), time.time(), machine()  # the commit that runs
    work.mkdir(parents=True, exist_ok=True)
    rows = measure(args, work)
    host["load_average_after"] = list(os.getloadavg())
    print(write_results(args, rows, started, host).read_text())


if __name__ == "__main__":
    main()
