"""The shipped toy models load offline through plain from_pretrained and reproduce their
manifest metrics on the fixed held-out subset."""

from __future__ import annotations

import numpy as np
import pytest

from photod_lab.toyworld.clip import clip_scene, load_clip
from photod_lab.toyworld.fixture import fixture_dir, load_vlm, read_manifest
from photod_lab.toyworld.measure import measure
from photod_lab.toyworld.tokenizer import build_tokenizer
from photod_lab.toyworld.train_clip import retrieval_accuracy


@pytest.mark.parametrize("name", ["toy-blip2", "toy-llava", "toy-llava-ground"])
def test_vlm_fixture_reproduces_manifest(name: str) -> None:
    path = fixture_dir(name)
    manifest = read_manifest(path)
    for key in ("script_version", "train_args", "size", "heldout_metrics", "check_metrics"):
        assert key in manifest
    weights = path / "model.safetensors"
    assert weights.stat().st_size < 10 * 2**20
    model, processor = load_vlm(path)
    expected = manifest["check_metrics"]
    got = measure(model, processor, expected["n"])
    for metric in (
        "caption_exact_match",
        "vqa_accuracy",
        "named_caption_exact_match",
        "grounding_accuracy",
    ):
        if metric in expected:
            # Same weights, same scenes: only float summation order may differ by thread count.
            assert got[metric] == pytest.approx(expected[metric], abs=0.03), metric
    for kind, share in expected.get("vqa_by_kind", {}).items():
        assert got["vqa_by_kind"][kind] == pytest.approx(share, abs=0.05), kind


def test_clip_fixture_loads_through_open_clip() -> None:
    path = fixture_dir("toy-clip")
    manifest = read_manifest(path)
    model, preprocess, tokenizer = load_clip(path)
    assert tokenizer(["a red circle left of bob"]).shape[-1] == 24
    seed = manifest["heldout_metrics"].get("seed", manifest["train_args"]["seed"] + 7919)
    rng = np.random.default_rng(seed)
    dev = [clip_scene(rng, 64) for _ in range(manifest["heldout_metrics"]["n"])]
    tok = build_tokenizer(padding_side="right", append_eos=True)
    acc = retrieval_accuracy(model, tok, dev, 24)
    assert acc == pytest.approx(manifest["heldout_metrics"]["text_retrieval_top1"], abs=0.02)


def test_feature_fixture_tells_an_object_from_its_look_alike() -> None:
    from transformers import Dinov2Model

    from photod_lab.toyworld.train_features import SceneSource, lookalike_margin

    path = fixture_dir("toy-features")
    manifest = read_manifest(path)
    assert manifest["kind"] == "features" and manifest["step"] > 0
    model = Dinov2Model.from_pretrained(path)
    check = lookalike_margin(model, SceneSource(manifest["heldout_metrics"]["seed"]), 30)
    # The same object in another scene is closer than a same-shape, same-colour object.
    assert check["same_instance"] > check["lookalike"] + 0.08
