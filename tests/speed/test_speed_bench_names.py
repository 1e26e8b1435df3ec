"""bench/speed.py names its result files after the device, the GPU's model where there is one."""

from __future__ import annotations

from unittest import mock

import pytest
import torch


@pytest.mark.parametrize(("name", "tag"), [("NVIDIA H100 80GB HBM3", "h100"), ("NVIDIA A100-SXM4-80GB", "a100"),
                                           ("NVIDIA H200", "h200"), ("", "cuda")])
def test_gpu_result_files_are_named_after_the_model(speed, name, tag):
    with mock.patch.object(torch.cuda, "get_device_name", return_value=name):
        assert speed.device_tag(torch.device("cuda")) == tag


def test_cpu_results_are_speed_cpu(speed):
    assert speed.device_tag(torch.device("cpu")) == "cpu"


@pytest.mark.parametrize(("size", "precision", "stem"), [("embedded", "fp32", "speed-cpu"),
                                                         ("sd15", "fp32", "speed-cpu-sd15"),
                                                         ("sd15", "bf16", "speed-cpu-sd15-bf16"),
                                                         ("tiny", "fp16", "speed-cpu-tiny-fp16")])
def test_result_files_name_the_size_and_a_reduced_precision(speed, size, precision, stem):
    config = speed.SpeedConfig(size=size, precision=precision)
    assert speed.result_stem(config, torch.device("cpu")) == stem


def test_a_copy_of_the_tree_outside_git_records_the_commit_it_was_made_from(speed, tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("DIFF2IN1_GIT_COMMIT", "0123abc")
    assert speed.git_commit(tmp_path) == "0123abc"
    monkeypatch.delenv("DIFF2IN1_GIT_COMMIT")
    assert speed.git_commit(tmp_path) == "unknown"
