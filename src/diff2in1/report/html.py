"""`diff2in1 report RUN`: one HTML page of a Diff-2-in-1 run (RUN/report/index.html, PNGs beside it).

Sections: the metrics (flip-averaged first when scored so), the time each stage took, what was run and
what was trained, training curves, test predictions (warm-up vs Diff-2-in-1) and created pairs. A section whose inputs are missing says so instead.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from ..data.layout import list_ids
from ..fileio import load_tensors, write_text
from ..heads.pictures import semseg_palette
from ..perception.pipeline import THETA_C, THETA_E, head_name
from ..tasks import TASKS
from .examples import Examples, created_examples, prediction_examples
from .figures import TILE, comparison_grid, created_grid, plot_panels, save_png
from .metrics_section import note, section_metrics, section_timings
from .runfolder import RunFolder, eval_panels, loss_panels, read_run, resolve_data

REPORT_DIR = "report"
CSS = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.better { background: #d9f2d9; color: #135c13; } td.worse { background: #f8d7d7; color: #8a1414; }
h3 { margin-bottom: 0.2em; font-size: 1.05em; }
table.settings td:first-child { font-weight: 600; background: #fafafa; }
.note { background: #fff6d6; border-left: 4px solid #e0b400; padding: 0.4em 0.8em; }
img { max-width: 100%; } img.grid { image-rendering: pixelated; } .muted { color: #666; font-size: 0.9em; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.2em 0 0.8em; vertical-align: middle; }
"""


def _param_count(file: Path) -> int | None:
    try:
        return sum(t.numel() for t in load_tensors(file).values())
    except (FileNotFoundError, ValueError):
        return None


def _settings(run: RunFolder, data: str, dataset: str) -> list[tuple[str, str]]:
    backbone = run.checkpoint_info.get("backbone", {})
    warm, improve = run.warmup_config, run.improve_config
    labelled = run.setting("num_labelled", 0)
    train_folder = Path(data) / "train" / "image" if data else None
    available = len(list_ids(Path(data), "train")) if train_folder is not None and train_folder.is_dir() else 0
    rows = [("data set", f"{dataset} at {data or '?'}"),
            ("backbone", f"{backbone.get('spec') or run.setting('backbone', '?')} (kind {backbone.get('kind', '?')}; "
                         f"{backbone.get('sample_size', '?')} px input, perception timestep "
                         f"{backbone.get('perception_timestep', run.setting('timestep', 0))})"),
            ("tasks", ", ".join(run.tasks()) or "?"),
            ("labelled real images", f"{labelled or 'all'}" + (f" of {available} training images" if available else "")),
            ("evaluation split", run.split or str(run.setting("eval_split", "?")))]
    if warm:
        rows.append(("warm-up", f"{warm.get('steps')} steps, batch {warm.get('batch_size')}, lr {warm.get('lr')}, "
                                f"head width {warm.get('channels')}"))
    provenance = run.synthetic_meta.get("provenance") or {}
    if provenance:
        count = len(list((run.synthetic / "train" / "image").glob("*.png")))
        per_image = (provenance.get("config") or {}).get("per_image", 1)
        rows.append(("creation", f"{count} created images ({per_image} per source), t* = {provenance.get('t_star')}, "
                                 f"{provenance.get('steps')}-step DDIM schedule, eta {provenance.get('eta')}, guidance "
                                 f"{provenance.get('guidance_scale')}, labelled by {_labeller(provenance)}"))
    if improve:
        teacher = f", labels from the fixed teacher {improve['teacher']} (diagnostic)" if improve.get("teacher") else ""
        pool = f", unlabelled images: {improve['unlabelled']}" if improve.get("unlabelled") else ""
        pool += f", θC's targets for {', '.join(improve['pseudo_tasks'])} only" if improve.get("pseudo_tasks") else ""
        heads = improve.get("teacher_heads") or []
        pool += f", θC averaged with {len(heads)} more warm-up heads" if heads else ""
        preset = f"preset {improve['preset']}: " if improve.get("preset") else ""  # run's recipe names none
        rows.append(("improve", f"{preset}{improve.get('steps')} steps, "
                                f"{improve.get('batch_size')} real + {improve.get('pseudo_batch_size')} pseudo-labelled "
                                f"per step, lr {improve.get('lr')}, EMA rate {improve.get('ema_decay')} every "
                                f"{improve.get('ema_every')} step(s), {improve.get('views')} views per image, θC "
                                f"averages {improve.get('teacher_views')} views, "
                                f"{'soft' if improve.get('soft_labels') else 'hard'} targets, created labels: "
                                f"{improve.get('labels')}{pool}{teacher}"))
    return rows


def _labeller(provenance: dict[str, Any]) -> str:
    folder = Path(str(provenance.get("checkpoint", "")))
    head = "θC" if head_name(provenance.get("which") or THETA_E) == THETA_C else "θE"  # 'creation' before
    return "the warm-up head" if folder.parent.name == "warmup" else f"{head} of {folder}"


def _trained_sentence(run: RunFolder) -> str:
    backbone = run.checkpoint_info.get("backbone") or {}
    text_model = backbone.get("kind") == "stable_diffusion"  # a VAE and a text encoder beside the UNet
    frozen = "UNet, VAE and text encoder" if text_model else "UNet (and VAE, where it has one)"
    params = _param_count(run.warmup_checkpoint / "model.safetensors")
    count = f" ({params:,} parameters)" if params else ""
    mode = (backbone.get("trained") or {}).get("mode")
    rest = ", the VAE and the text encoder" if text_model else ""
    if mode == "lora":
        text = (f"Rank-{backbone['trained'].get('rank')} LoRA adapters on the diffusion UNet train with the feature "
                f"aggregator and the task heads{count}; the UNet's own weights{rest} stay frozen.")
    elif mode == "full":
        still = "; the VAE and the text encoder stay frozen" if rest else ""
        text = (f"Every weight of the diffusion UNet trains with the feature aggregator and the task heads{count}, "
                f"the UNet at a fraction of the heads' learning rate{still}.")
    else:
        text = (f"The diffusion backbone's {frozen} are frozen throughout; only the feature aggregator and the task "
                f"heads{count} are trained.")
    text += " The warm-up trains them on the labelled real images."
    if run.improve_config:
        pseudo = int(run.improve_config.get("pseudo_batch_size", 0) or 0)
        data = "real samples only (a control without created data)" if not pseudo else \
            f"batches of {run.improve_config.get('batch_size')} real and {pseudo} created or unlabelled samples"
        unet = " with its trained UNet weights" if mode in ("lora", "full") else ""
        text += (f" In the improve stage, θE (exploitation) is trained{unet} by gradient descent on {data}; θC "
                 "(creation) gets no gradients: it is an exponential moving average of θE, and labels the created "
                 "samples without ground truth from an ensemble of views of each. “Diff-2-in-1” below is θC.")
    return text


def _section_settings(run: RunFolder, data: str, dataset: str) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in _settings(run, data, dataset))
    return f"<h2>What was run</h2>\n<p>{escape(_trained_sentence(run))}</p>\n<table class='settings'>{rows}</table>"


def _img(out: Path, name: str, alt: str, css: str = "plot") -> str:
    if not (out / name).is_file():
        return ""
    return f"<p><img class='{css}' src='{escape(name)}' alt='{escape(alt)}'></p>"


def _section_curves(run: RunFolder, out: Path) -> str:
    parts = ["<h2>Training curves</h2>"]
    panels, boundary = loss_panels(run)
    if panels:
        plot_panels(panels, out / "loss.png", boundary)
        parts.append(_img(out, "loss.png", "training loss"))
    else:
        parts.append(note("No training log yet."))
    evals = eval_panels(run)
    if evals:
        plot_panels(evals, out / "eval.png", boundary)
        parts.append(_img(out, "eval.png", "evaluation during training"))
    return "\n".join(parts)


def _legend(classes: list[str]) -> str:
    if not classes:
        return ""
    colours = semseg_palette(len(classes))
    items = "".join(f"<span class='swatch' style='background: rgb{tuple(int(c) for c in colour)}'></span>{escape(name)}"
                    for name, colour in zip(classes, colours))
    return f"<p class='muted'>Classes:{items}</p>"


def _captions(examples: Examples) -> str:
    if not any(examples.captions):
        return ""
    items = "".join(f"<li><code>{escape(i)}</code>: {escape(c)}</li>" for i, c in zip(examples.ids, examples.captions))
    return f"<details><summary>ids and captions, top to bottom</summary><ol>{items}</ol></details>"


def _section_predictions(examples: Examples, out: Path, tasks: list[str], tile: int) -> str:
    parts = ["<h2>Test images</h2>", note(examples.note)]
    if examples.images:
        picture = comparison_grid(examples.images, examples.labels, tasks, examples.num_classes, tile)
        save_png(out / "predictions.png", picture)
        parts.append("<p class='muted'>Per row: the image, its ground truth, the warm-up's prediction and "
                     "Diff-2-in-1's (θC) prediction for each task. Depth pictures of a row share the ground "
                     "truth's colour range (bright = near); black = no label.</p>")
        parts += [_img(out, "predictions.png", "test predictions", "grid"), _legend(examples.classes), _captions(examples)]
    return "\n".join(p for p in parts if p)


def _section_created(examples: Examples, out: Path, tile: int) -> str:
    parts = ["<h2>Created pairs</h2>", note(examples.note)]
    samples = examples.labels.get("created") or []
    if samples:
        created_tasks = [t for t in TASKS if t in samples[0]]
        save_png(out / "created.png", created_grid(examples.images, samples, created_tasks, examples.num_classes, tile))
        parts.append("<p class='muted'>Per row: the real source image, the image created from it (noised to t*, "
                     "then denoised), the labels the creating head (the warm-up head in <code>diff2in1 run</code>) "
                     "gave it in the same pass and, for normals, that head's confidence κ (bright = confident). "
                     "These are the stored labels; during improve θC re-labels the created images.</p>")
        parts += [_img(out, "created.png", "created pairs", "grid"), _captions(examples)]
    return "\n".join(p for p in parts if p)


def render_page(run: RunFolder, sections: list[str]) -> str:
    title = f"Diff-2-in-1 run: {run.root.resolve().name}"
    body = "\n".join(s for s in sections if s)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head>\n<body>\n<h1>{escape(title)}</h1>\n"
            f"<p class='muted'>{escape(str(run.root))}</p>\n{body}\n</body></html>\n")


def write_report(run_dir: str | Path, data: str | Path | None = None, dataset: str | None = None,
                 num_examples: int = 6, tile: int = TILE) -> Path:
    """Write ``run_dir/report/index.html`` with its PNGs (loss.png, eval.png, predictions.png, created.png).

    Args:
        run_dir: folder written by `diff2in1 run` (warmup/, synthetic/, improve/, metrics.json).
        data, dataset: the real data set; by default read from the run's config (top level or ``warmup:``).
        num_examples: rows of test images and of created pairs.
        tile: display height of each picture in the grids, pixels.

    Returns:
        The path of index.html. Raises FileNotFoundError when ``run_dir`` holds no run.
    """
    run = read_run(run_dir)
    out = run.root / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    data_root, dataset_name, wanted = resolve_data(run, data, dataset)
    tasks = run.tasks()
    predictions = prediction_examples(run, data_root, dataset_name, num_examples)
    if data_root is None and wanted:
        predictions.note = f"The real data set was not found at {wanted}; pass data= to show test images."
    created = created_examples(run, data_root, dataset_name, num_examples)
    settings = _section_settings(run, str(data_root or wanted), dataset_name)
    sections = [section_metrics(run), section_timings(run), settings, _section_curves(run, out), _section_predictions(predictions, out, tasks, tile),
                _section_created(created, out, tile)]
    return write_text(out / "index.html", render_page(run, sections))


def report_command(run_dir: str | Path, data: str | None = None, dataset: str | None = None,
                   num_examples: int = 6) -> Path:
    """What `diff2in1 report RUN` does: write the report and print where it is."""
    path = write_report(run_dir, data=data, dataset=dataset, num_examples=num_examples)
    print(f"report: {path}")
    return path

