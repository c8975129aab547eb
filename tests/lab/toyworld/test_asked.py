"""The training aid that marks, inside the toy LLaVA's LM, the patches of the asked-about object."""

from __future__ import annotations

import numpy as np
import torch

from photod_lab.toyworld.asked import (
    NO_QUESTION,
    AskedObjectProbe,
    asked_labels,
    asked_shape,
    captured_lm_states,
    image_positions,
)
from photod_lab.toyworld.dense import SHAPE_CLASSES, patch_labels
from photod_lab.toyworld.models import TinySize, build_llava, language_layers
from photod_lab.toyworld.scenes import SceneGenerator
from photod_lab.toyworld.train import make_batch

SMALL = TinySize(vision_width=32, lm_width=32, heads=2, num_query_tokens=4)


def test_the_asked_shape_is_read_from_the_question() -> None:
    assert asked_shape("where is the star ?") == "star"
    assert asked_shape("what color is the person ?") == "person"
    assert asked_shape("how many objects are there ?") is None
    assert asked_shape(None) is None


def test_labels_mark_exactly_the_asked_objects_patches() -> None:
    scenes = SceneGenerator(2).batch(3, n_objects=2)
    first, second = (o.spec.shape for o in scenes[0].objects)
    questions = [f"where is the {second} ?", "how many objects are there ?", None]
    labels = asked_labels(scenes, questions, 64, 8)
    shapes = patch_labels(scenes, 64, 8)["shape"]
    assert labels.shape == shapes.shape
    asked = labels[0] == 1
    assert asked.any() and (shapes[0][asked] == SHAPE_CLASSES.index(second)).all()
    # The other object's patches and the background are 0; samples naming no object: ignored.
    assert (labels[0][shapes[0] == SHAPE_CLASSES.index(first)] == 0).all()
    assert set(labels[0].unique().tolist()) == {0.0, 1.0}
    assert (labels[1:] == NO_QUESTION).all()


def test_probe_reads_the_lm_image_states_and_trains_only_the_layers_below() -> None:
    torch.manual_seed(0)
    model, processor = build_llava(SMALL)
    model.train()
    scenes = SceneGenerator(4).batch(2, n_objects=2)
    picks = [(q, a) for s in scenes for q, a in s.qa if q.startswith("where")][::2]
    assert len(picks) == 2
    batch = make_batch("llava", [s.image() for s in scenes], processor, picks)
    with captured_lm_states(model, layer=0) as states:
        out = model(**batch, output_hidden_states=True)
    # The hook sees what decoder layer 0 outputs, at every position...
    assert torch.equal(states[0], out.hidden_states[1])
    # ... and the image positions are one state per patch, in raster order.
    image_states = image_positions(
        states[0], batch["input_ids"], model.config.image_token_id, SMALL.patches
    )
    assert image_states.shape == (2, 64, SMALL.lm_width)
    is_image = batch["input_ids"][1] == model.config.image_token_id
    assert torch.equal(image_states[1, 5], states[0][1][is_image.nonzero()[5, 0]])

    labels = asked_labels(scenes, [q for q, _ in picks], 64, 8)
    loss = AskedObjectProbe(SMALL.lm_width).loss(image_states, labels)
    assert loss > 0
    loss.backward()
    below, above = language_layers(model)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in below.parameters())
    assert all(p.grad is None or not p.grad.any() for p in above.parameters())


def test_probe_loss_is_zero_without_object_questions() -> None:
    probe = AskedObjectProbe(8)
    labels = torch.full((3, 64), NO_QUESTION)
    assert probe.loss(torch.randn(3, 64, 8), labels).item() == 0.0


def test_probe_ignores_token_scale_like_the_lms_norm() -> None:
    torch.manual_seed(1)
    probe = AskedObjectProbe(8)
    states = torch.randn(2, 64, 8)
    labels = torch.from_numpy(np.random.default_rng(0).integers(0, 2, (2, 64))).float()
    assert torch.isclose(probe.loss(states, labels), probe.loss(20 * states, labels), atol=1e-5)
