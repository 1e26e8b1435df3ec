"""The backbones on a CUDA device: same features as on the CPU, CPU generators accepted, half precision runs."""

from __future__ import annotations

import pytest
import torch

from diff2in1.backbones import load_backbone

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("kind", ["sd", "pixel"])
def test_cuda_matches_cpu(kind: str, request: pytest.FixtureRequest) -> None:
    # cuDNN's default TF32 convolutions round to 10 mantissa bits: on an H200 the tiny SD's features then
    # differed from the CPU's by up to 2.4e-3. The comparison is of the code path, so in full float32.
    matmul = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
            _cuda_matches_cpu(kind, request)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul


def _cuda_matches_cpu(kind: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(f"tiny_{kind}_path")
    cpu = load_backbone("auto", path)
    gpu = load_backbone("auto", path, device="cuda")
    half = load_backbone("auto", path, device="cuda", dtype=torch.float16)
    assert gpu.fingerprint() == cpu.fingerprint()
    assert gpu.feature_strides == half.feature_strides == cpu.feature_strides

    side = cpu.sample_size
    images = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(0)) * 2 - 1
    captions = ["a room with a red box", "a chair"] if cpu.takes_text else None

    def features(backbone, images):
        generator = torch.Generator().manual_seed(1)  # a CPU generator, whatever the device
        return backbone.extract_features(images, timestep=300, captions=captions, generator=generator)

    for a, b in zip(features(cpu, images), features(gpu, images.cuda())):
        assert b.device.type == "cuda"
        torch.testing.assert_close(b.cpu(), a, atol=1e-3, rtol=1e-3)
    assert all(f.dtype == torch.float16 for f in features(half, images))

    sample = gpu.encode(images)
    timesteps = gpu.set_inference_steps(10)
    for t in timesteps[-3:]:
        output, _ = gpu.unet_pass(sample, t, gpu.encode_text(captions))
        sample = gpu.denoise_step(
            output, t, sample, eta=0.5, generator=torch.Generator("cuda").manual_seed(0)
        )
    assert gpu.decode(sample).device.type == "cuda"
    assert sum(len(m._forward_hooks) for m in gpu.modules()) == 0
