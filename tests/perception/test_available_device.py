"""The commands that open a checkpoint (predict, evaluate, the report) put it on the GPU when there is one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.perception.inference import available_device
from diff2in1.perception.pipeline import Diff2in1Pipeline


class Opened(Exception):
    """Raised by the fake `from_pretrained` once it has recorded where the command asked for the models."""


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[torch.device | str | None]:
    devices: list[torch.device | str | None] = []

    def from_pretrained(folder, backbone=None, which="theta_e", device=None, dtype=None):
        devices.append(device)
        raise Opened

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(Diff2in1Pipeline, "from_pretrained", staticmethod(from_pretrained))
    return devices


def test_the_gpu_when_there_is_one(monkeypatch: pytest.MonkeyPatch):
    assert available_device() == torch.device("cpu" if not torch.cuda.is_available() else "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert available_device() == torch.device("cuda")


def test_predict_opens_the_checkpoint_on_the_gpu(asked, tmp_path: Path):
    from diff2in1.cli.predict import PredictConfig
    from diff2in1.report.predictions import write_predictions

    with pytest.raises(Opened):
        write_predictions(PredictConfig(checkpoint=str(tmp_path), input=str(tmp_path), out=str(tmp_path / "out")))
    assert asked == [torch.device("cuda")]


def test_evaluate_opens_the_checkpoint_on_the_gpu(asked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import accelerate

    from diff2in1.cli.evaluate import EvaluateConfig, evaluate_checkpoint

    class OneGPU:  # evaluate runs where accelerate puts this process (it shares the batches when launched)
        def __init__(self, cpu: bool = False):
            self.device = torch.device("cpu" if cpu else "cuda")

    monkeypatch.setattr(accelerate, "Accelerator", OneGPU)
    with pytest.raises(Opened):
        evaluate_checkpoint(EvaluateConfig(checkpoint=str(tmp_path)))
    assert asked == [torch.device("cuda")]


def test_the_report_opens_the_warmup_checkpoint_on_the_gpu(asked, tmp_path: Path):
    from diff2in1.report.examples import _models
    from diff2in1.report.runfolder import RunFolder

    with pytest.raises(Opened):
        _models(RunFolder(tmp_path))
    assert asked == [torch.device("cuda")]
