"""Tiny BLIP-2 / LLaVA built from configs: tokenizer, processors, training batches, saving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from photod.vlm.llava import instruction_prompt
from photod_lab.toyworld.fixture import load_vlm, save_fixture
from photod_lab.toyworld.metrics import model_kind, prompt_text
from photod_lab.toyworld.models import (
    TinySize,
    build_blip2,
    build_llava,
    deepen_language_model,
    language_layers,
)
from photod_lab.toyworld.scenes import SceneGenerator
from photod_lab.toyworld.tokenizer import build_tokenizer
from photod_lab.toyworld.train import make_batch, pick_targets, sequence_loss

SMALL = TinySize(vision_width=32, lm_width=32, heads=2, num_query_tokens=4)


def test_tokenizer_keeps_image_token_whole() -> None:
    tok = build_tokenizer()
    ids = tok("<image><image> a red circle left of bob")["input_ids"]
    image_id = tok.convert_tokens_to_ids("<image>")
    assert ids[:3] == [tok.bos_token_id, image_id, image_id]
    assert tok.unk_token_id not in ids


@pytest.mark.parametrize("build", [build_blip2, build_llava])
def test_batch_prefix_matches_processor(build) -> None:
    model, processor = build(SMALL)
    scenes = SceneGenerator(0).batch(4)
    images = [s.image() for s in scenes]
    kind = model_kind(model)
    picks = pick_targets(kind, scenes, np.random.default_rng(0), 0.5)
    batch = make_batch(kind, images, processor, picks)
    assert batch["input_ids"].shape == batch["labels"].shape
    # Every label is a caption/answer token or -100; the prompt part is never supervised.
    image_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    assert not (batch["labels"] == image_id).any()
    out = model(**batch)
    assert torch.isfinite(out.loss)


@pytest.mark.parametrize("build", [build_blip2, build_llava])
def test_save_and_from_pretrained_roundtrip(build, tmp_path: Path) -> None:
    model, processor = build(SMALL)
    assert model.config._attn_implementation == "eager"
    save_fixture(model, processor, tmp_path / "m", {"kind": "test"})
    loaded, proc = load_vlm(tmp_path / "m")
    image = SceneGenerator(1).sample().image()
    text = "" if "blip" in loaded.config.model_type else "<image> describe the image"
    enc = proc(images=[image], text=[text], return_tensors="pt")
    ref = processor(images=[image], text=[text], return_tensors="pt")
    assert torch.equal(enc["input_ids"], ref["input_ids"])
    with torch.no_grad():
        a = model.eval()(**ref).logits
        b = loaded(**enc).logits
    assert torch.allclose(a, b, atol=1e-5)


def test_toy_llava_prompt_puts_the_question_before_the_image(tmp_path: Path) -> None:
    model, processor = build_llava(SMALL)
    save_fixture(model, processor, tmp_path / "m", {"kind": "test"})
    _, loaded = load_vlm(tmp_path / "m")
    # The template survives saving, and train, eval and photod's backend all use it.
    text = prompt_text(loaded, "llava", "what color is the circle ?")
    assert text == instruction_prompt(loaded, "what color is the circle ?")
    image = SceneGenerator(1).sample().image()
    ids = loaded(images=[image], text=[text], return_tensors="pt")["input_ids"][0].tolist()
    words = loaded.tokenizer.convert_ids_to_tokens(ids)
    first_image = words.index("<image>")
    assert words[1:first_image] == ["what", "color", "is", "the", "circle", "?"]
    assert words[first_image:-1] == ["<image>"] * (SMALL.image_size // SMALL.patch_size) ** 2
    assert words[-1] == ":"


def test_sequence_loss_weighs_each_sample_equally() -> None:
    model, processor = build_llava(SMALL)
    scenes = SceneGenerator(0).batch(2)
    images = [s.image() for s in scenes]
    rng = np.random.default_rng(0)
    one = make_batch("llava", images[:1], processor, pick_targets("llava", scenes[:1], rng, 0.0))
    with torch.no_grad():
        # One sequence: the per-sequence mean is the usual token mean.
        assert torch.allclose(sequence_loss(model, one), model(**one).loss, atol=1e-6)
        picks = pick_targets("llava", scenes, np.random.default_rng(1), 0.5)
        both = make_batch("llava", images, processor, picks)
        per_row = [
            sequence_loss(model, {k: v[i : i + 1] for k, v in both.items()}) for i in range(2)
        ]
        assert torch.allclose(sequence_loss(model, both), sum(per_row) / 2, atol=1e-5)


@pytest.mark.parametrize("build", [build_blip2, build_llava])
def test_deepened_model_computes_the_same_then_trains_its_new_layers(build) -> None:
    model, processor = build(SMALL, seed=3)
    with torch.no_grad():  # a trained model's weights are not the init ones: perturb them
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    deeper = deepen_language_model(model, TinySize(**{**SMALL.to_dict(), "lm_layers": 4}))
    assert len(language_layers(model)) == 2 and len(language_layers(deeper)) == 4
    scenes = SceneGenerator(0).batch(2)
    kind = model_kind(model)
    picks = pick_targets(kind, scenes, np.random.default_rng(0), 0.5)
    batch = make_batch(kind, [s.image() for s in scenes], processor, picks)
    with torch.no_grad():
        assert torch.equal(model.eval()(**batch).logits, deeper.eval()(**batch).logits)
    # The new layers are identity maps, not dead ends: their zeroed projections get gradient.
    deeper.train()(**batch).loss.backward()
    top = language_layers(deeper)[-1]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in top.parameters())
    with pytest.raises(ValueError):
        deepen_language_model(model, SMALL)
