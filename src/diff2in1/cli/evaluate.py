"""`diff2in1 evaluate`: metrics JSON of a checkpoint on a data-set split."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from ..config import add_dataclass_arguments, config_from_args, option


@dataclass
class EvaluateConfig:
    checkpoint: str = option("runs/warmup/checkpoint", "perception checkpoint folder")
    data: str = option("data/rooms", "data-set root")
    dataset: str = option("rooms", "data-set reader name")
    split: str = option("test", "split to evaluate")
    which: list[str] = option(["theta_e"], "heads to evaluate: theta_e (θE, the checkpoint's model) and/or "
                              "theta_c (θC; a warm-up checkpoint's θC is its θE)")
    flip: bool = option(False, "also score every head with flip test-time averaging (theta_e_tta, ...), as "
                        "improve's metrics.json")
    out: str = option("", "metrics JSON to write (default: <checkpoint>/metrics-<split>.json)")
    batch_size: int = option(16, "images per batch")


def evaluate_checkpoint(config: EvaluateConfig) -> dict:
    """Metrics of θE and / or θC on a split, as training scores them; one UNet pass per batch serves both
    (a pass per head when the backbone trained: each head has its own UNet weights). Under ``accelerate
    launch`` the processes share the batches; the main process writes the file."""
    from pathlib import Path

    import torch
    from accelerate import Accelerator

    from ..fileio import write_json
    from ..perception.evaluation import evaluate, evaluate_each_on_its_weights
    from ..perception.pipeline import THETA_E, Diff2in1Pipeline, head_name
    from ..perception.splits import open_split

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    names = [head_name(which) for which in config.which]  # model / creation: the heads' older names
    pipe = Diff2in1Pipeline.from_pretrained(config.checkpoint, device=accelerator.device)
    models = {name: pipe.heads.get(name, pipe.heads[THETA_E]) for name in names}
    dataset = open_split(config.dataset, config.data, config.split, pipe.tasks, pipe.backbone.sample_size)
    metrics = evaluate_each_on_its_weights(
        lambda some: evaluate(pipe.backbone, some, dataset, flip=config.flip, batch_size=config.batch_size,
                              accelerator=accelerator),
        models, pipe.unet_of if pipe.backbone.trained is not None else None)
    out = Path(config.out or Path(config.checkpoint) / f"metrics-{config.split}.json")
    if accelerator.is_main_process:
        write_json(out, {"checkpoint": config.checkpoint, "split": config.split, "flip": config.flip,
                         "metrics": metrics})
    return {"path": str(out), "metrics": metrics}


def _run(args: argparse.Namespace) -> int:
    from accelerate import PartialState

    result = evaluate_checkpoint(config_from_args(EvaluateConfig, args))
    if PartialState().is_main_process:  # every process holds the metrics; one prints them
        print(json.dumps(result["metrics"], indent=2))
        print(f"wrote {result['path']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="metrics of a checkpoint on a data-set split (JSON)")
    add_dataclass_arguments(parser, EvaluateConfig)
    parser.set_defaults(func=_run)
