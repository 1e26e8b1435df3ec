"""The UNet's trained part (`adapters.TrainedUNet`): LoRA through peft or every weight, on both tiny backbones.

Every test loads its own backbone: attaching a trained part changes the UNet it is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diff2in1.backbones import DiffusionBackbone, load_backbone
from diff2in1.backbones.adapters import DEFAULT_LORA_TARGETS, attach_trained_unet

LORA = {"mode": "lora", "rank": 4, "alpha": 4.0}


@pytest.fixture(params=["pixel", "sd"])
def fresh(request: pytest.FixtureRequest):
    """A loader of fresh backbones of each kind in turn (each call: a new, untouched backbone)."""
    kind, fixture = {"pixel": ("pixel", "tiny_pixel_path"), "sd": ("stable_diffusion", "tiny_sd_path")}[request.param]
    path: Path = request.getfixturevalue(fixture)
    return lambda: load_backbone(kind, path)


@torch.no_grad()
def unet_output(backbone: DiffusionBackbone) -> list[torch.Tensor]:
    """The UNet's prediction and features on a fixed noisy sample (with a caption on a text backbone)."""
    config = backbone.unet.config
    size = config.sample_size if isinstance(config.sample_size, int) else config.sample_size[0]
    noisy = torch.randn(2, config.in_channels, size, size, generator=torch.Generator().manual_seed(0))
    cond = backbone.encode_text(["a room", "a kitchen"]) if backbone.takes_text else None
    output, features = backbone.unet_pass(noisy, 10, cond)
    return [output.detach().clone(), *(f.detach().clone() for f in features)]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def apart(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return not torch.allclose(a[0], b[0], atol=1e-5)


@torch.no_grad()
def set_lora_b(backbone: DiffusionBackbone, scale: float = 0.5, seed: int = 1) -> None:
    """Non-zero adapter B weights (peft starts them at zero, which leaves the UNet's output unchanged)."""
    generator = torch.Generator().manual_seed(seed)
    for name, param in backbone.unet.named_parameters():
        if "lora_B" in name:
            param.copy_(torch.randn(param.shape, generator=generator) * scale)


def test_lora_adds_peft_adapters_and_only_they_train(fresh):
    backbone = fresh()
    trained = attach_trained_unet(backbone, LORA)
    assert backbone.trained is trained and trained.mode == "lora"
    modules = [name for name, _ in backbone.unet.named_modules()]
    assert any("lora_A" in name for name in modules) and any("lora_B" in name for name in modules)
    trains = {name for name, p in backbone.named_parameters() if p.requires_grad}
    assert trains, "no weight of the backbone trains"
    assert all("lora_" in name for name in trains), sorted(n for n in trains if "lora_" not in n)[:5]
    assert {f"unet.{name}" for name in trained.state_dict()} == {name.replace(".perception.", ".") for name in trains}
    from peft import get_peft_model_state_dict  # the checkpoint's adapter file is peft's state dict

    assert trained.state_dict().keys() == get_peft_model_state_dict(backbone.unet, adapter_name="perception").keys()
    assert {id(p) for p in trained.parameters()} == {id(p) for p in backbone.parameters() if p.requires_grad}
    # peft's start: B = 0, so the adapted UNet is still the pretrained one
    assert all(not v.any() for k, v in trained.state_dict().items() if "lora_B" in k)


def test_lora_untouched_is_the_pretrained_unet_exactly(fresh):
    pretrained = unet_output(fresh())
    backbone = fresh()
    trained = attach_trained_unet(backbone, LORA)
    set_lora_b(backbone)
    adapted = unet_output(backbone)
    assert apart(adapted, pretrained), "non-zero adapters did not change the UNet's output"
    with trained.untouched():
        assert same(unet_output(backbone), pretrained)
    assert same(unet_output(backbone), adapted), "the adapters stayed disabled after untouched()"


def test_weights_swaps_the_trained_weights_in_and_restores_them(fresh):
    backbone = fresh()
    trained = attach_trained_unet(backbone, LORA)
    set_lora_b(backbone, seed=1)
    live = {k: v.clone() for k, v in trained.state_dict().items()}
    adapted = unet_output(backbone)
    generator = torch.Generator().manual_seed(2)
    other = {k: torch.randn(v.shape, generator=generator) * 0.5 for k, v in live.items()}
    params = trained.parameters()
    kept = {k: v.clone() for k, v in other.items()}
    with trained.weights(other):
        assert all(torch.equal(trained.state_dict()[k], other[k]) for k in other)
        swapped = unet_output(backbone)
    assert all(a is b for a, b in zip(trained.parameters(), params))  # the optimizer's parameters stay
    assert all(torch.equal(other[k], kept[k]) for k in other)
    assert apart(swapped, adapted)
    assert all(torch.equal(trained.state_dict()[k], live[k]) for k in live)
    assert same(unet_output(backbone), adapted)
    with pytest.raises(RuntimeError, match="inside"), trained.weights(other):  # restored after an error too
        raise RuntimeError("inside")
    assert all(torch.equal(trained.state_dict()[k], live[k]) for k in live)
    with pytest.raises(ValueError, match="missing"):
        trained.load_state_dict({k: v for k, v in list(live.items())[1:]})


def test_full_trains_every_unet_weight_and_untouched_restores_the_pretrained_output(fresh):
    pretrained = unet_output(fresh())
    backbone = fresh()
    trained = attach_trained_unet(backbone, {"mode": "full"})
    assert trained.mode == "full"
    assert all(p.requires_grad for p in backbone.unet.parameters())
    assert not [n for n, p in backbone.named_parameters() if p.requires_grad and not n.startswith("unet.")]
    assert set(trained.state_dict()) == {name for name, _ in backbone.unet.named_parameters()}
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in trained.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.05)
    changed = unet_output(backbone)
    assert apart(changed, pretrained)
    with trained.untouched():
        assert same(unet_output(backbone), pretrained)
    assert same(unet_output(backbone), changed), "the trained weights were not restored after untouched()"


@pytest.mark.parametrize("settings", [LORA, {"mode": "full"}])
def test_describe_names_the_fresh_backbones_fingerprint(fresh, settings):
    base = fresh().fingerprint()
    backbone = fresh()
    trained = attach_trained_unet(backbone, settings)
    described = trained.describe()
    assert described["base_fingerprint"] == base == trained.base_fingerprint
    assert described["mode"] == settings["mode"] and described["fingerprint"] == trained.fingerprint()
    if settings["mode"] == "lora":
        assert (described["rank"], described["alpha"]) == (4, 4.0)
        assert described["targets"] == list(DEFAULT_LORA_TARGETS)
    before = trained.fingerprint()
    with torch.no_grad():
        trained.parameters()[-1].add_(1.0)
    assert trained.fingerprint() != before  # the trained weights' hash follows them
    assert trained.describe()["base_fingerprint"] == base


def test_the_adapters_random_start_is_seeded(fresh):
    state = torch.random.get_rng_state()
    a = attach_trained_unet(fresh(), LORA, seed=5).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state), "attaching drew from the global generator"
    b = attach_trained_unet(fresh(), LORA, seed=5).state_dict()
    c = attach_trained_unet(fresh(), LORA, seed=6).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if "lora_A" in k)


def test_bad_lora_targets_are_refused_naming_them(fresh):
    backbone = fresh()
    with pytest.raises(ValueError, match="no_such_proj") as error:
        attach_trained_unet(backbone, {**LORA, "targets": ["no_such_proj", "conv_typo"]})
    assert "conv_typo" in str(error.value)
    assert backbone.trained is None
    assert not any("lora_" in name for name, _ in backbone.unet.named_modules())


def test_none_attaches_nothing_and_an_unknown_mode_is_refused(fresh):
    backbone = fresh()
    assert attach_trained_unet(backbone, {"mode": "none"}) is None and backbone.trained is None
    assert not any(p.requires_grad for p in backbone.parameters())
    with pytest.raises(ValueError, match="'half'"):
        attach_trained_unet(backbone, {"mode": "half"})


def test_the_adapter_weights_load_into_a_plain_unet_with_diffusers_load_lora_adapter(fresh):
    from diff2in1.backbones.adapters import _with_adapter_mixin

    backbone, plain = fresh(), fresh()
    trained = attach_trained_unet(backbone, LORA)  # alpha = rank: the scale diffusers infers from the weights
    set_lora_b(backbone)
    _with_adapter_mixin(plain.unet).load_lora_adapter({k: v.clone() for k, v in trained.state_dict().items()},
                                                      prefix=None, adapter_name="elsewhere")
    assert same(unet_output(plain), unet_output(backbone))


def test_adapter_weights_saved_under_the_older_names_still_load(fresh):
    backbone = fresh()
    trained = attach_trained_unet(backbone, LORA)
    set_lora_b(backbone, seed=3)
    saved = {k: v.clone() for k, v in trained.state_dict().items()}
    older = {name.replace(".lora_A.", ".lora_A.perception.").replace(".lora_B.", ".lora_B.perception."): value
             for name, value in saved.items()}  # before peft's state dicts: the adapter's name in every key
    set_lora_b(backbone, seed=4)
    trained.load_state_dict(older)
    assert all(torch.equal(trained.state_dict()[k], saved[k]) for k in saved)
