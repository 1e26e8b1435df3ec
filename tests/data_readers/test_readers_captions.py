"""Captions: caption_for's order, the caption writer, `diff2in1 caption`, and a tiny BLIP."""

from __future__ import annotations

import argparse
import warnings

import pytest
from readers_fakes import make_ade20k, make_layout

from diff2in1.cli import caption as caption_cli
from diff2in1.data.captions import caption_for, load_blip_captioner, write_captions
from diff2in1.data.open import open_dataset


def fake_captioner(images):
    return [f"an image of {im.width}x{im.height} pixels" for im in images]


def test_caption_for_file_then_template_then_empty(tmp_path):
    rooms = open_dataset("rooms", make_layout(tmp_path / "rooms"), "train")
    assert caption_for(rooms, 0) == "a room with a red box"  # caption/<id>.txt
    assert caption_for(rooms, 1) == "a room"  # template
    ade = open_dataset("ade20k", make_ade20k(tmp_path / "ade"), "train")
    (ade.caption_dir).mkdir()
    (ade.caption_dir / "ADE_train_00000002.txt").write_text("a kitchen\n")
    assert [caption_for(ade, i) for i in range(2)] == ["a photo", "a kitchen"]
    assert ade[1]["caption"] == "a kitchen"
    folder = open_dataset("folder", make_layout(tmp_path / "plain", captions=False), "train")
    with pytest.warns(UserWarning, match="no caption file.*empty prompt"):
        assert caption_for(folder, 0) == ""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert caption_for(folder, 1) == ""  # warned once per data set


def test_write_captions_skips_existing_and_leaves_no_temporary_files(tmp_path):
    root = make_layout(tmp_path / "rooms")
    dataset = open_dataset("rooms", root, "train")
    written, skipped = write_captions(dataset, fake_captioner, batch_size=1, progress=False)
    assert (written, skipped) == (1, 1)
    assert (root / "train" / "caption" / "s0.txt").read_text() == "a room with a red box\n"  # kept
    assert (root / "train" / "caption" / "s1.txt").read_text() == "an image of 8x6 pixels\n"
    assert sorted(p.name for p in (root / "train" / "caption").iterdir()) == ["s0.txt", "s1.txt"]
    assert write_captions(dataset, fake_captioner, progress=False) == (0, 2)
    assert write_captions(dataset, fake_captioner, overwrite=True, progress=False) == (2, 0)
    with pytest.raises(ValueError, match="returned 0 captions for 2 images"):
        write_captions(dataset, lambda images: [], overwrite=True, progress=False)


def test_caption_command(tmp_path, capsys):
    root = make_layout(tmp_path / "rooms", captions=False)
    parser = argparse.ArgumentParser()
    caption_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["caption", str(root), "--dataset", "rooms", "--batch-size", "2"])
    config = caption_cli.config_from_args(caption_cli.CaptionConfig, args)
    assert config.root == str(root) and config.batch_size == 2 and config.splits == ["train", "test"]
    assert caption_cli.caption_dataset(config, fake_captioner) == (3, 0)
    assert (root / "test" / "caption" / "s2.txt").is_file()
    config.splits = ["train", "val"]
    assert caption_cli.caption_dataset(config, fake_captioner) == (0, 2)
    assert "skipping split 'val'" in capsys.readouterr().out
    config.root = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        caption_cli.caption_dataset(config, fake_captioner)


def test_blip_loader_names_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no_model: no BLIP model there \(config\.json not found\)"):
        load_blip_captioner(str(tmp_path / "no_model"))


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory):
    """A random BLIP with hidden size 16 and a 12-word vocabulary, saved like a real one."""
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    folder = tmp_path_factory.mktemp("blip")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "room", "photo", "of", "chair", "table"]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), bos_token="[DEC]")
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer)
    text = dict(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                max_position_embeddings=32, bos_token_id=5, pad_token_id=0, sep_token_id=3, eos_token_id=3,
                encoder_hidden_size=16)
    vision = dict(hidden_size=16, image_size=32, patch_size=8, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=32)
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision, projection_dim=16))
    model.save_pretrained(folder / "model")
    processor.save_pretrained(folder / "model")
    return folder / "model"


def test_tiny_blip_writes_captions(tmp_path, tiny_blip):
    root = make_layout(tmp_path / "rooms", captions=False)
    config = caption_cli.CaptionConfig(root=str(root), dataset="rooms", splits=["train"], model=str(tiny_blip),
                                       max_new_tokens=4, device="cpu")
    assert caption_cli.caption_dataset(config) == (2, 0)
    texts = [(root / "train" / "caption" / f"s{k}.txt").read_text() for k in (0, 1)]
    assert all(t.endswith("\n") and set(t.split()) <= {"a", "room", "photo", "of", "chair", "table"} for t in texts)


def test_caption_command_on_a_flat_folder_captions_each_image_once(tmp_path):
    from readers_fakes import rgb, save_image

    save_image(tmp_path / "pics" / "a.png", rgb(4, 4, 0))
    config = caption_cli.CaptionConfig(root=str(tmp_path / "pics"), dataset="images")
    assert caption_cli.caption_dataset(config, fake_captioner) == (1, 0)
    assert (tmp_path / "pics" / "caption" / "a.txt").read_text() == "an image of 4x4 pixels\n"
    assert caption_for(open_dataset("images", tmp_path / "pics"), 0) == "an image of 4x4 pixels"
