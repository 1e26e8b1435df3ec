"""`write_report`: the HTML page of a run, its metrics table and its pictures."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diff2in1.data.dataset import LayoutDataset
from diff2in1.heads.pictures import normal_to_rgb
from diff2in1.report.html import report_command, write_report

TILE, PAD = 16, 2  # the rooms and the tiny backbone are 16 px, so tiles are the pictures themselves


class _Page(HTMLParser):
    """Rows of the plain metrics table (cell texts), of each metrics table by id, and the img sources."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._in_metrics = self._in_cell = False
        self.feed(text)
        self.rows = self.tables.get("metrics-plain", [])

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "table":
            self._in_metrics = attrs.get("class") == "metrics"
            if self._in_metrics:
                self.tables[attrs["id"]] = []
        elif tag == "tr" and self._in_metrics:
            self.rows = list(self.tables.values())[-1]
            self.rows.append([])
        elif tag in ("td", "th") and self._in_metrics:
            self._in_cell = True
            self.rows[-1].append("")
        elif tag == "img":
            self.images.append(attrs["src"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_metrics = False
        elif tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.rows[-1][-1] += data


def _shown_equals(cell: str, value: float) -> bool:
    """Whether a table cell shows ``value`` rounded to the cell's decimals."""
    decimals = len(cell.split(".")[1]) if "." in cell else 0
    return abs(float(cell) - value) <= 0.5 * 10.0**-decimals + 1e-12


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _cell(grid: np.ndarray, row: int, column: int, rows: int) -> np.ndarray:
    """Picture at (row, column) of a grid of ``rows`` picture rows below a header of unknown height."""
    y = grid.shape[0] - (rows - row) * (TILE + PAD)
    x = PAD + column * (TILE + PAD)
    return grid[y : y + TILE, x : x + TILE]


@pytest.fixture(scope="module")
def report(report_run: dict[str, Path]) -> dict:
    index = write_report(report_run["run"], num_examples=3, tile=TILE)
    return {"index": index, "page": _Page(index.read_text()), **report_run}


def test_report_writes_index_html_in_the_run_folder(report: dict) -> None:
    assert report["index"] == report["run"] / "report" / "index.html"
    text = report["index"].read_text()
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text
    for heading in ("What was run", "Metrics", "Training curves", "Test images", "Created pairs"):
        assert f"<h2>{heading}</h2>" in text
    assert "frozen" in text and "exponential moving average" in text and "t* = 600" in text


def test_report_table_shows_the_numbers_of_metrics_json(report: dict) -> None:
    summary = json.loads((report["run"] / "metrics.json").read_text())
    rows = {(r[0], r[1].split(" ")[0]): r[2:] for r in report["page"].rows[1:]}
    expected = [(task, metric) for task, values in summary["warmup"].items() for metric in values]
    assert sorted(rows) == sorted(expected)
    for (task, metric), cells in rows.items():
        warm, theta_c, theta_e = (summary[k][task][metric] for k in ("warmup", "diff2in1", "diff2in1_theta_e"))
        assert _shown_equals(cells[0], warm) and _shown_equals(cells[2], theta_c) and _shown_equals(cells[3], theta_e)
        if "control" in summary:
            control = summary["control"][task][metric]
            assert _shown_equals(cells[1], control) and _shown_equals(cells[4], theta_c - control), (task, metric)
        else:
            assert cells[1] == "—" and cells[4] == "—"


def test_report_says_when_there_is_no_control(report: dict) -> None:
    assert "No control run" in report["index"].read_text()


def test_report_headline_table_is_flip_averaged_when_the_run_scored_so(report: dict) -> None:
    summary = json.loads((report["run"] / "metrics.json").read_text())
    text, tables = report["index"].read_text(), report["page"].tables
    assert list(tables) == ["metrics-tta", "metrics-plain"]
    assert text.index("id='metrics-tta'") < text.index("id='metrics-plain'")
    rows = {(r[0], r[1].split(" ")[0]): r[1:] for r in tables["metrics-tta"][1:]}
    header = tables["metrics-tta"][0]
    assert "warm-up" not in header and "Diff-2-in-1 (θC)" in header  # the warm-up was not scored with flips
    column = header.index("Diff-2-in-1 (θC)") - 1
    for (task, metric), cells in rows.items():
        assert _shown_equals(cells[column], summary["diff2in1_tta"][task][metric])


def test_report_without_flip_averaged_metrics_has_the_plain_table_only(warmup_only_run: Path) -> None:
    page = _Page(write_report(warmup_only_run, num_examples=1, tile=TILE).read_text())
    assert list(page.tables) == ["metrics-plain"]


def test_report_shows_each_stage_time_and_the_exported_model(report: dict, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(report["run"], run, ignore=shutil.ignore_patterns("report"))
    (run / "timings.json").write_text(json.dumps({"warmup": 61.4, "create": 12.0, "improve": 150.2}))
    summary = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**summary, "chosen": "theta_e (best on val)"}))
    text = write_report(run, data=report["rooms"], num_examples=1, tile=TILE).read_text()
    assert "<h2>Stage times</h2>" in text
    for name, seconds in (("warm-up", "61 s"), ("creation", "12 s"), ("improve", "150 s"), ("total", "224 s")):
        assert name in text and seconds in text
    assert "Exported model" in text and "theta_e (best on val)" in text
    assert "Exported model" not in report["index"].read_text() and "Stage times" not in report["index"].read_text()


def test_the_exported_model_reads_as_a_sentence_from_runs_choice_record() -> None:
    from diff2in1.report.metrics_section import chosen_sentence

    chosen = {"model": "control", "on": "val", "head": "theta_c", "scores": {"control": {"normal": {"mean": 9.9}}},
              "wins": {"normal": "control", "depth": "diff2in1"}}
    text = chosen_sentence(chosen)
    assert text.startswith("the control") and "normal: the control, depth: Diff-2-in-1" in text
    assert "9.9" not in text  # the scores stay in metrics.json
    strict = chosen_sentence({**chosen, "rule": "no_task_lost", "rule_words": "only if worse on none"})
    assert "only if worse on none" in strict
    assert "by rule more_tasks_won" in text  # a record written before the rule's words were stored
    unchosen = {"model": "diff2in1", "on": "none", "why": "the run trained no control (control: false)"}
    assert chosen_sentence(unchosen) == ("Diff-2-in-1, exported without a choice: the run trained no control "
                                         "(control: false)")


def test_report_pictures_exist_and_are_pngs(report: dict) -> None:
    folder = report["index"].parent
    assert sorted(report["page"].images) == ["created.png", "eval.png", "loss.png", "predictions.png"]
    for name in report["page"].images:
        with Image.open(folder / name) as image:
            assert image.format == "PNG" and min(image.size) > 20


def test_report_prediction_grid_has_image_truth_and_both_models(report: dict) -> None:
    grid = _png(report["index"].parent / "predictions.png")
    test = LayoutDataset(report["rooms"], "test")
    columns = 1 + 3 * 5  # image | ground truth, warm-up, Diff-2-in-1 for normal, depth, semseg, edge, saliency
    assert grid.shape[1] == columns * (TILE + PAD) + PAD
    for row, item in enumerate(test[i] for i in range(len(test))):
        image = (item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        np.testing.assert_array_equal(_cell(grid, row, 0, len(test)), image)
        np.testing.assert_array_equal(_cell(grid, row, 1, len(test)), normal_to_rgb(item["normal"]))


def test_report_created_grid_pairs_each_sample_with_its_source(report: dict) -> None:
    grid = _png(report["index"].parent / "created.png")
    created = LayoutDataset(report["run"] / "synthetic", "train")
    rooms = LayoutDataset(report["rooms"], "train")
    columns = 2 + 5 + 1  # source | created | normal, depth, semseg, edge, saliency labels | kappa
    assert grid.shape[1] == columns * (TILE + PAD) + PAD
    for row in range(len(created)):
        sample = created[row]
        source_id = json.loads((report["run"] / "synthetic" / "train" / "provenance" / f"{sample['id']}.json").read_text())["source_id"]
        source = rooms[rooms.ids.index(source_id)]
        for column, image in ((0, source["image"]), (1, sample["image"])):
            expected = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            np.testing.assert_array_equal(_cell(grid, row, column, len(created)), expected)


def test_report_of_a_warmup_only_run_says_what_is_missing(warmup_only_run: Path) -> None:
    index = write_report(warmup_only_run, num_examples=2, tile=TILE)
    text, page = index.read_text(), _Page(index.read_text())
    assert "improve stage has not finished" in text and "No created data set" in text
    assert all(row[3] == "—" and row[4] == "—" for row in page.rows[1:])  # θC and θE columns
    assert sorted(page.images) == ["eval.png", "loss.png", "predictions.png"]
    grid = _png(index.parent / "predictions.png")
    assert grid.shape[1] == (1 + 2 * 5) * (TILE + PAD) + PAD  # image | ground truth, warm-up


def test_report_without_the_real_data_still_writes_the_page(warmup_only_run: Path, tmp_path: Path) -> None:
    index = write_report(warmup_only_run, data=tmp_path / "moved", tile=TILE)
    assert "was not found" in index.read_text() and not (index.parent / "predictions.png").exists()


def test_report_of_a_folder_without_a_run_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        write_report(tmp_path)


def test_report_command_prints_the_page(warmup_only_run: Path, capsys: pytest.CaptureFixture) -> None:
    path = report_command(warmup_only_run, num_examples=1)
    assert path == warmup_only_run / "report" / "index.html" and path.is_file()
    assert str(path) in capsys.readouterr().out
