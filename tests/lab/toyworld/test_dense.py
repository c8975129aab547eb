"""The dense patch-label probe that speeds up the toy VLMs' vision towers in training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photod_lab.toyworld.dense import (
    COLOUR_CLASSES,
    PLACE_CLASSES,
    SHAPE_CLASSES,
    DenseProbe,
    captured_patch_tokens,
    patch_labels,
)
from photod_lab.toyworld.metrics import model_kind
from photod_lab.toyworld.models import TinySize, build_blip2, build_llava
from photod_lab.toyworld.render import Decoration, ObjectSpec
from photod_lab.toyworld.scenes import Scene, SceneGenerator, SceneObject
from photod_lab.toyworld.train import make_batch, pick_targets

SMALL = TinySize(vision_width=32, lm_width=32, heads=2, num_query_tokens=4)


def _scene(*objects: ObjectSpec, layout: str = "row") -> Scene:
    return Scene([SceneObject(o, "x") for o in objects], layout, "gray", "plain", 64, 0)


def test_labels_mark_the_patches_under_each_object_row_major() -> None:
    star = ObjectSpec("star", "green", cx=12.0, cy=44.0, size=9.0)
    named = ObjectSpec(
        "circle", "red", cx=52.0, cy=20.0, size=8.0, decorations=(Decoration("outline"),)
    )
    labels = patch_labels([_scene(star, named)], image_size=64, patch_size=8)
    shape = labels["shape"].reshape(8, 8)  # [row (y), column (x)]
    # Patch (row 5, col 1) has its centre at (12, 44): the star's centre.
    assert SHAPE_CLASSES[shape[5, 1]] == "star"
    assert COLOUR_CLASSES[labels["colour"].reshape(8, 8)[5, 1]] == "green"
    assert SHAPE_CLASSES[shape[2, 6]] == "circle"
    assert labels["named"].reshape(8, 8)[2, 6] == 1 and labels["named"].reshape(8, 8)[5, 1] == 0
    # The objects' places in the row (caption order: the star is left of the circle).
    place = labels["place"].reshape(8, 8)
    assert PLACE_CLASSES[place[5, 1]] == "left" and PLACE_CLASSES[place[2, 6]] == "right"
    assert PLACE_CLASSES[place[0, 0]] == "background"
    # Far from both objects: background; only the objects' cores are labelled.
    assert shape[0, 0] == 0 and shape[7, 7] == 0
    assert 0 < int((shape == SHAPE_CLASSES.index("star")).sum()) <= 9


def test_place_labels_follow_the_layout_answers() -> None:
    alone = patch_labels(
        [_scene(ObjectSpec("star", "green", 28.0, 28.0, 9.0), layout="single")], 64, 8
    )
    assert PLACE_CLASSES[alone["place"].reshape(8, 8)[3, 3]] == "alone"
    column = _scene(
        ObjectSpec("star", "green", 30.0, 12.0, 8.0),
        ObjectSpec("circle", "red", 28.0, 50.0, 8.0),
        layout="column",
    )
    place = patch_labels([column], 64, 8)["place"].reshape(8, 8)
    assert PLACE_CLASSES[place[1, 3]] == "top" and PLACE_CLASSES[place[6, 3]] == "bottom"


@pytest.mark.parametrize("build", [build_blip2, build_llava])
def test_probe_reads_the_towers_patch_tokens_and_trains_them(build) -> None:
    model, processor = build(SMALL)
    model.train()
    scenes = SceneGenerator(0).batch(3)
    kind = model_kind(model)
    picks = pick_targets(kind, scenes, np.random.default_rng(0), 0.0)
    batch = make_batch(kind, [s.image() for s in scenes], processor, picks)
    probe = DenseProbe(SMALL.vision_width)
    with captured_patch_tokens(model) as tokens:
        model(**batch)
    assert len(tokens) == 1 and tokens[0].shape == (3, 64, SMALL.vision_width)
    loss = probe.loss(tokens[0], patch_labels(scenes, 64, 8))
    loss.backward()
    patch_conv = next(p for n, p in model.named_parameters() if "patch_embedding" in n)
    assert patch_conv.grad is not None and patch_conv.grad.abs().sum() > 0
    # The hook is gone after the context: the saved model is the stock architecture.
    with captured_patch_tokens(model) as again:
        pass
    with torch.no_grad():
        model(**batch)
    assert again == []


def test_place_is_scored_on_object_patches_only() -> None:
    torch.manual_seed(0)
    probe = DenseProbe(16)
    tokens = torch.randn(4, 64, 16)
    labels = patch_labels(SceneGenerator(3).batch(4, n_objects=2), 64, 8)
    place = labels["place"]
    assert (place == 0).float().mean() > 0.5  # mostly background

    def place_term(t: torch.Tensor) -> torch.Tensor:
        rest = {**labels, "place": torch.zeros_like(place)}  # no object patch: term skipped
        return probe.loss(t, labels) - probe.loss(t, rest)

    # Changing the tokens of background patches leaves the place term as it was...
    noisy = tokens.clone()
    noisy[place == 0] += torch.randn_like(noisy[place == 0])
    assert torch.isclose(place_term(noisy), place_term(tokens), atol=1e-5)
    # ... and it is the cross-entropy over the object patches alone.
    logits = probe.heads["place"](tokens)[place > 0]
    expected = torch.nn.functional.cross_entropy(logits, place[place > 0])
    assert torch.isclose(place_term(tokens), expected, atol=1e-5)


def test_probe_can_read_llavas_projector_output_instead() -> None:
    model, processor = build_llava(SMALL)
    model.train()
    scenes = SceneGenerator(1).batch(2)
    picks = pick_targets("llava", scenes, np.random.default_rng(0), 0.0)
    batch = make_batch("llava", [s.image() for s in scenes], processor, picks)
    with captured_patch_tokens(model, at="projector") as tokens:
        model(**batch)
    # The LM's input: one token per patch, at the LM's width.
    assert len(tokens) == 1 and tokens[0].shape == (2, 64, SMALL.lm_width)
    DenseProbe(SMALL.lm_width).loss(tokens[0], patch_labels(scenes, 64, 8)).backward()
    projector = model.model.multi_modal_projector
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in projector.parameters())
    blip2, _ = build_blip2(SMALL)
    with pytest.raises(ValueError, match="only LLaVA"), captured_patch_tokens(blip2, "projector"):
        pass


def test_normalised_probe_scores_how_large_a_label_is_not_how_separable() -> None:
    torch.manual_seed(0)
    labels = patch_labels(SceneGenerator(5).batch(4, n_objects=2), 64, 8)
    place = labels["place"]
    # Other content (colour, shape...) in features the place read-out does not look at.
    other = torch.randn(4, 64, 16) * (torch.arange(16) >= len(PLACE_CLASSES))

    def with_label(size: float) -> torch.Tensor:
        """Tokens with ``size`` in the feature numbered like the patch's place."""
        return other + size * torch.nn.functional.one_hot(place, 16).float()

    def probe(normalised: bool, weight_scale: float = 1.0) -> DenseProbe:
        """A probe whose place read-out looks at feature c for place c."""
        made = DenseProbe(16, normalised=normalised)
        with torch.no_grad():
            head = made.heads["place"]
            head.weight.copy_(weight_scale * torch.eye(len(PLACE_CLASSES), 16))
            head.bias.zero_()
        return made

    def place_term(made: DenseProbe, tokens: torch.Tensor) -> float:
        rest = {**labels, "place": torch.zeros_like(place)}  # no object patch: term skipped
        return float(made.loss(tokens, labels) - made.loss(tokens, rest))

    faint = with_label(0.3)
    # A plain probe makes up for a faint label by growing its weights...
    assert place_term(probe(False, 50.0), faint) < place_term(probe(False), faint) - 0.1
    # ... the normalised one cannot (weights are unit rows), nor gains from scaling tokens,
    # which the LM's RMSNorm undoes as well.
    assert place_term(probe(True, 50.0), faint) == pytest.approx(place_term(probe(True), faint))
    assert place_term(probe(True), 10 * faint) == pytest.approx(place_term(probe(True), faint))
    # Only a label that is a larger share of the token lowers its loss.
    assert place_term(probe(True), with_label(3.0)) < place_term(probe(True), faint) - 0.1
