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
