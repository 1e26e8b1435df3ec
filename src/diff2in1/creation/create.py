"""`diff2in1 create`: a synthetic data set in the project layout from the labelled training images.

Each created sample ``<source_id>_c<k>`` comes from one DDIM pass over its source image (`create_batch`): the
image and the warm-up head's labels read from the final step's features. Its noise depends only on
(seed, source index, k), so a resumed, re-batched or sharded run (``accelerate launch``; process i takes every
n-th sample) creates the same samples. Complete samples already in the output folder are skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from ..config import config_to_dict
from ..data.layout import read_meta, write_meta
from ..fileio import sha256_file, write_yaml
from ..heads import PerceptionModel
from ..perception.checkpoint import MODEL_FILE, theta_c_file
from ..perception.ddim import denoising_timesteps, strength_from_t_star, t_star_from_strength
from ..perception.pipeline import THETA_C, Diff2in1Pipeline, head_name
from ..perception.splits import labelled_subsets, open_split
from ..tasks import NORMAL
from .config import CreateConfig
from .writer import STAGING, created_id, is_complete, sample_arrays, write_created

# Provenance settings that change the created pixels or labels: one folder cannot mix samples made with others.
FIXED_SETTINGS = ("checkpoint_sha256", "which", "t_star", "steps", "eta", "guidance_scale", "seed", "fingerprint")


class Job(NamedTuple):
    source_index: int
    k: int
    source_id: str
    sample_id: str


def resolve_t_star(config: CreateConfig, num_train_timesteps: int) -> int:
    """--strength when given, else --t-star, checked against the schedule's range."""
    if config.strength:
        return t_star_from_strength(config.strength, num_train_timesteps)
    if not 0 <= config.t_star < num_train_timesteps:
        raise ValueError(f"--t-star must be in [0, {num_train_timesteps - 1}], got {config.t_star}")
    return int(config.t_star)


def sample_seed(seed: int, source_index: int, k: int) -> int:
    """The noise seed of created sample k of source ``source_index``, independent of batching and sharding."""
    return int(np.random.SeedSequence([seed, source_index, k]).generate_state(1, dtype=np.uint64)[0] >> 1)


def plan_jobs(dataset: Any, config: CreateConfig) -> list[Job]:
    """Every (source, k) to create, in a fixed order: the labelled subset (as warm-up), then --limit."""
    subset, _ = labelled_subsets(dataset, config.num_labelled, 0.0, config.labelled_seed)
    indices = list(subset.indices)[: config.limit or None]
    ids = _source_ids(dataset)
    return [Job(i, k, ids[i], created_id(ids[i], k)) for i in indices for k in range(config.per_image)]


def _source_ids(dataset: Any) -> list[str]:
    inner = getattr(dataset, "dataset", dataset)  # open_split's Resized wrapper
    if hasattr(inner, "ids"):
        return [str(i) for i in inner.ids]
    return [str(dataset[i]["id"]) for i in range(len(dataset))]


def _check_existing(out: Path, provenance: dict[str, Any]) -> None:
    if not (out / "meta.json").is_file():
        return
    old = read_meta(out).get("provenance")
    if old is None:
        raise ValueError(f"{out / 'meta.json'}: the folder holds a data set that was not created by "
                         "`diff2in1 create`; choose another --out")
    for key in FIXED_SETTINGS:
        before, now = _setting(old, key), _setting(provenance, key)
        if before is not None and before != now:
            raise ValueError(f"{out / 'meta.json'}: the folder holds samples created with {key}={before}, not "
                             f"{now}; use the same setting to add to it, or another --out")


def _setting(provenance: dict[str, Any], key: str) -> Any:
    if key == "which" and provenance.get(key) is not None:  # theta_c; 'creation' in older folders' meta.json
        return head_name(provenance[key])
    return provenance.get("backbone", {}).get(key) if key == "fingerprint" else provenance.get(key)


def creation_meta(source: Any, model: PerceptionModel, info: dict[str, Any], size: int,
                  provenance: dict[str, Any]) -> dict[str, Any]:
    """meta.json of the created set: the source's description, the head's tasks, ``synthetic`` and provenance."""
    inner = getattr(source, "dataset", source)  # open_split's Resized wrapper
    base = dict(getattr(inner, "meta", {}) or {})
    if base.get("image_size") != [size, size]:
        base.pop("intrinsics", None)  # the sources were resized, so the camera is another one
    base.pop("generator", None)
    template = getattr(inner, "caption_template", None)
    if template is not None:
        base["caption_template"] = template  # created samples of captionless sources get the same prompt
    classes = info.get("classes") or getattr(source, "classes", None) or []
    return {
        **base,
        "name": f"created-{base.get('name') or provenance['source']['dataset']}",
        "tasks": list(model.tasks),
        "classes": list(classes),
        "image_size": [size, size],
        "depth_range": base.get("depth_range", [0.0, float(model.config()["max_depth"])]),
        "synthetic": True,
        "provenance": provenance,
    }


def _provenance(config: CreateConfig, backbone: Any, info: dict[str, Any], t_star: int,
                timestep: int) -> dict[str, Any]:
    folder = Path(config.checkpoint)
    which = head_name(config.which)
    file = (theta_c_file(folder) if which == THETA_C else None) or folder / MODEL_FILE
    return {
        "source": {"data": str(config.data), "dataset": config.dataset, "split": config.split},
        "checkpoint": str(folder), "checkpoint_file": file.name, "checkpoint_sha256": sha256_file(file),
        "which": which, "t_star": t_star, "start_timestep": timestep,
        "strength": strength_from_t_star(t_star, backbone.num_train_timesteps),
        "steps": config.steps, "eta": config.eta, "guidance_scale": config.guidance_scale, "seed": config.seed,
        "backbone": {"spec": info["backbone"]["spec"], "kind": info["backbone"]["kind"],
                     "fingerprint": backbone.fingerprint()},
        "config": config_to_dict(config),
    }


def _create_jobs(jobs: list[Job], source: Any, pipe: Diff2in1Pipeline, config: CreateConfig,
                 t_star: int, timestep: int, out: Path) -> Iterator[int]:
    """Create and write ``jobs`` in batches; yields the number written after each batch."""
    for start in range(0, len(jobs), config.batch_size):
        chunk = jobs[start:start + config.batch_size]
        items = [source[job.source_index] for job in chunk]
        captions = [str(item.get("caption", "")) for item in items]
        seeds = [sample_seed(config.seed, job.source_index, job.k) for job in chunk]
        result = pipe.create(torch.stack([item["image"] for item in items]), captions, t_star, config.steps,
                             config.eta, config.guidance_scale, [torch.Generator().manual_seed(s) for s in seeds],
                             batch_size=len(chunk), output_type="pt")
        created, labels = result.images, {task: getattr(result, task) for task in pipe.tasks}
        kappa = (result.confidence or {}).get(NORMAL)
        for row, (job, caption, seed) in enumerate(zip(chunk, captions, seeds)):
            arrays = sample_arrays(created[row], {t: v[row] for t, v in labels.items()},
                                   None if kappa is None else kappa[row])
            provenance = {"id": job.sample_id, "source_id": job.source_id, "source_index": job.source_index,
                          "k": job.k, "seed": seed, "t_star": t_star, "timestep": timestep}
            write_created(out, job.sample_id, arrays, caption, provenance)
        yield len(chunk)


def create_dataset(config: CreateConfig) -> Path:
    """Create the synthetic data set ``config.out`` (project layout, train split); returns its folder.

    Writes ``OUT/train/{image,<tasks>,caption,kappa,provenance}/<source_id>_c<k>.*`` (kappa when normals are a
    task) and ``OUT/meta.json`` (``synthetic: true``, ``provenance``: source data, checkpoint and its sha256,
    t*, steps, eta, guidance, seed, backbone fingerprint) and ``OUT/config.yaml``. Under ``accelerate launch``
    each process creates every n-th sample; the main process writes the meta files.
    """
    from accelerate import Accelerator  # a slow import, needed only when creating

    if config.per_image < 1 or config.batch_size < 1 or config.steps < 1:
        raise ValueError(f"per_image, batch_size and steps must be >= 1, got {config.per_image}, "
                         f"{config.batch_size}, {config.steps}")
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    pipe = Diff2in1Pipeline.from_pretrained(config.checkpoint, which=config.which, device=accelerator.device)
    backbone, model, info = pipe.backbone, pipe.head, pipe.info
    t_star = resolve_t_star(config, backbone.num_train_timesteps)
    source = open_split(config.dataset, config.data, config.split, None, backbone.sample_size)
    out = Path(config.out)
    # The timestep the images are noised to: checked here, before anything is written.
    timestep = int(denoising_timesteps(backbone.set_inference_steps(config.steps), t_star)[0])
    provenance = _provenance(config, backbone, info, t_star, timestep)
    _check_existing(out, provenance)
    if accelerator.is_main_process:
        write_meta(out, creation_meta(source, model, info, backbone.sample_size, provenance))
        write_yaml(out / "config.yaml", config_to_dict(config))
    mine = plan_jobs(source, config)[accelerator.process_index::accelerator.num_processes]
    todo = [job for job in mine if not is_complete(out, job.sample_id)]
    bar = tqdm(total=len(mine), initial=len(mine) - len(todo), desc="create", unit="img",
               disable=not config.progress or not accelerator.is_local_main_process)
    for done in _create_jobs(todo, source, pipe, config, t_star, timestep, out):
        bar.update(done)
    bar.close()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(out / STAGING, ignore_errors=True)
    return out
