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
    which: list[str] = option(["model"], "heads to evaluate: model (θE) and/or creation (θC)")
    out: str = option("", "metrics JSON to write (default: <checkpoint>/metrics-<split>.json)")
    batch_size: int = option(16, "images per batch")


def evaluate_checkpoint(config: EvaluateConfig) -> dict:
    """Metrics of θE ('model') and / or θC ('creation') on a split; one UNet pass per batch serves both."""
    from pathlib import Path

    from ..fileio import write_json
    from ..perception.evaluation import evaluate_model
    from ..perception.inference import available_device
    from ..perception.pipeline import THETA_C, THETA_E, Diff2in1Pipeline
    from ..perception.splits import open_split

    unknown = sorted(set(config.which) - {"model", "creation"})
    if unknown:
        raise ValueError(f"--which {unknown}: expected model (θE) and / or creation (θC)")
    pipe = Diff2in1Pipeline.from_pretrained(config.checkpoint, device=available_device())
    heads = {"model": pipe.heads[THETA_E], "creation": pipe.heads.get(THETA_C, pipe.heads[THETA_E])}
    models = {name: head for name, head in heads.items() if name in config.which}
    dataset = open_split(config.dataset, config.data, config.split, pipe.tasks, pipe.backbone.sample_size)
    metrics = evaluate_model(pipe.backbone, models, dataset, config.batch_size)
    out = Path(config.out or Path(config.checkpoint) / f"metrics-{config.split}.json")
    write_json(out, {"checkpoint": config.checkpoint, "split": config.split, "metrics": metrics})
    return {"path": str(out), "metrics": metrics}


def _run(args: argparse.Namespace) -> int:
    result = evaluate_checkpoint(config_from_args(EvaluateConfig, args))
    print(json.dumps(result["metrics"], indent=2))
    print(f"wrote {result['path']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="metrics of a checkpoint on a data-set split (JSON)")
    add_dataclass_arguments(parser, EvaluateConfig)
    parser.set_defaults(func=_run)
