"""Text prompts for the diffusion backbone: per-sample captions, templates, and a BLIP caption writer.

:func:`caption_for` gives the prompt of a sample: its ``caption/<id>.txt`` when present, else the data
set's template (``caption_template``, e.g. "an indoor scene" for NYUv2), else the empty prompt with a
warning (once per data set). :func:`write_captions` fills the caption files with any captioner, e.g. the
BLIP model of :func:`load_blip_captioner` (``diff2in1 caption`` on the command line).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..fileio import write_text
from .layout import sample_path

Captioner = Callable[[list[Image.Image]], list[str]]
DEFAULT_BLIP = "Salesforce/blip-image-captioning-base"


def caption_path(dataset: Any, sample_id: str) -> Path | None:
    """Where the caption of ``sample_id`` lives: ``<split>/caption/<id>.txt`` in the project layout,
    ``<root>/caption/<id>.txt`` for the readers; None for a data set that has neither."""
    if hasattr(dataset, "caption_path"):
        return dataset.caption_path(sample_id)
    if hasattr(dataset, "root") and hasattr(dataset, "split"):
        return sample_path(dataset.root, dataset.split, "caption", sample_id)
    return None


def caption_for(dataset: Any, index: int) -> str:
    """Prompt of sample ``index``: its caption file, else the data set's template, else "" (warned once)."""
    sample_id = dataset.ids[index]
    path = caption_path(dataset, sample_id)
    if path is not None and path.is_file():
        text = path.read_text().strip()
        if text:
            return text
    template = getattr(dataset, "caption_template", None)
    if template is not None:
        return template
    if not getattr(dataset, "_warned_empty_caption", False):
        where = getattr(dataset, "root", type(dataset).__name__)
        warnings.warn(
            f"{where}: sample '{sample_id}' has no caption file ({path}) and the data set has no caption "
            f"template; using the empty prompt. Run `diff2in1 caption {where}` to write captions.",
            stacklevel=2,
        )
        try:
            dataset._warned_empty_caption = True
        except AttributeError:  # objects with __slots__ warn each time
            pass
    return ""


def load_image(dataset: Any, index: int) -> Image.Image:
    """Sample ``index`` as an RGB PIL image, from its file when the data set stores images as files."""
    path = dataset.image_path(index) if hasattr(dataset, "image_path") else None
    if path is None and hasattr(dataset, "root") and hasattr(dataset, "split"):
        path = sample_path(dataset.root, dataset.split, "image", dataset.ids[index])
    if path is not None and Path(path).is_file():
        with Image.open(path) as img:
            return img.convert("RGB")
    image = dataset[index]["image"]  # float 3xHxW in [0, 1]
    array = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(array)


def write_captions(
    dataset: Any,
    captioner: Captioner,
    batch_size: int = 8,
    overwrite: bool = False,
    progress: bool = True,
) -> tuple[int, int]:
    """Write ``caption/<id>.txt`` for each sample of ``dataset`` with ``captioner(images) -> captions``.

    Existing files are kept unless ``overwrite``; each file is written atomically (temporary file, then
    rename), so an interrupted run can simply be started again. Returns (written, skipped).
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    paths = [caption_path(dataset, sample_id) for sample_id in dataset.ids]
    if any(p is None for p in paths):
        raise ValueError(f"{type(dataset).__name__}: this data set has no caption folder to write to")
    todo = [i for i, p in enumerate(paths) if overwrite or not p.is_file()]
    bar = tqdm(total=len(todo), desc="captions", unit="image", disable=not progress)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        texts = captioner([load_image(dataset, i) for i in batch])
        if len(texts) != len(batch):
            raise ValueError(f"captioner returned {len(texts)} captions for {len(batch)} images")
        for i, text in zip(batch, texts):
            write_text(paths[i], " ".join(str(text).split()) + "\n")
        bar.update(len(batch))
    bar.close()
    return len(todo), len(paths) - len(todo)


def _looks_like_path(model: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with separators is meant as a folder.
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model or Path(model).exists()


def load_blip_captioner(
    model: str = DEFAULT_BLIP,
    device: str = "cpu",
    max_new_tokens: int = 30,
    prompt: str = "",
) -> Captioner:
    """A BLIP image-to-text model as ``captioner(images) -> captions``.

    ``model``: a folder saved with ``save_pretrained`` (BlipForConditionalGeneration + BlipProcessor) or
    a hub id such as ``Salesforce/blip-image-captioning-base``. ``prompt``: optional text the captions
    start with (BLIP's conditional captioning). ``device``: e.g. "cpu" or "cuda".
    """
    import torch
    from transformers import BlipForConditionalGeneration, BlipProcessor

    if _looks_like_path(model):
        folder = Path(model).expanduser()
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"{folder}: no BLIP model there (config.json not found); pass a folder written by "
                f"save_pretrained (model and processor), or a hub id such as {DEFAULT_BLIP}"
            )
        model = str(folder)
    try:
        processor = BlipProcessor.from_pretrained(model)
        net = BlipForConditionalGeneration.from_pretrained(model).to(device).eval()
    except OSError as err:
        raise FileNotFoundError(
            f"{model}: could not load a BLIP captioning model ({err}); download it once with network access "
            f"or pass a local folder saved with save_pretrained"
        ) from err

    @torch.inference_mode()
    def captioner(images: Sequence[Image.Image]) -> list[str]:
        text = [prompt] * len(images) if prompt else None
        inputs = processor(images=list(images), text=text, return_tensors="pt").to(device)
        out = net.generate(**inputs, max_new_tokens=max_new_tokens)
        return [t.strip() for t in processor.batch_decode(out, skip_special_tokens=True)]

    return captioner


__all__ = ["caption_for", "caption_path", "load_blip_captioner", "load_image", "write_captions"]
