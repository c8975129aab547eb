"""Base-written caption targets: a caption that does not name the concept is no target; of
the base model's few best captions, the best that names it is."""

from __future__ import annotations

import numpy as np
import pytest

from photod.vlm.concept_training import _with_targets
from photod.vlm.targets import concept_caption, generate_targets, names_concept
from photod.vlm.training import TrainExample
from photod_lab.evaluation.myvlm import MyVLMPersonalizer
from photod_lab.toyworld.concepts import concept_scene, toy_concepts
from photod_lab.toyworld.fixture import fixture_dir


def test_a_caption_names_the_concept_by_its_class():
    assert names_concept("a dog on a beach", "the dog", "dog")
    # The class phrase says nothing of the dog: any description of one names it.
    assert names_concept("a big brown dog sleeps", "the dog", "dog")
    assert not names_concept("a cat on a beach", "the dog", "dog")
    assert not names_concept("hotdog stand", "the dog", "dog")
    assert names_concept("a yellow star left of a red square", "a yellow star", "star")
    assert names_concept("a star", "a yellow star", "star")
    # The class phrase says yellow: "a white star" is another star, or a mistake.
    assert not names_concept("a white star", "a yellow star", "star")
    assert not names_concept("a green circle", "a green square", "square")


def test_the_best_caption_that_names_the_concept_is_chosen():
    ranked = ["a green circle", "a green square", "a green square above a red star"]
    assert concept_caption(ranked, "a green square", "square") == "a green square"
    assert concept_caption(ranked[:1], "a green square", "square") is None


@pytest.fixture(scope="module")
def session():
    return MyVLMPersonalizer(fixture_dir("toy-blip2")).session


def test_a_misnamed_photo_is_no_target_and_beams_recover_it(session):
    """The real toy BLIP-2 takes the checked square of this scene for "a green circle"
    (its best caption); its second best names the square."""
    concept = next(c for c in toy_concepts() if c.key == "checked_square")
    image = concept_scene(np.random.default_rng(0), [concept], 0).image()
    ranked = session.caption_candidates([image], 4)[0]
    assert ranked[0] == "a green circle" == session.generate([image], [None], [[]])[0]
    args = (session, [image], concept.identifier, concept.class_phrase, concept.class_word)
    assert generate_targets(*args) == [[]]  # greedy: the base model's mistake is not taught
    assert generate_targets(*args, beams=4) == [[(None, concept.identifier)]]


def test_photos_without_a_target_do_not_train():
    im = concept_scene(np.random.default_rng(0), [toy_concepts()[0]], 0).image()
    named = TrainExample(im, [(None, "bob")])
    assert _with_targets([named, TrainExample(im, [])], "bob") == [named]
    # No photo has one: each trains on the identifier alone rather than on nothing.
    alone = _with_targets([TrainExample(im, [], fired=False)], "bob")
    assert [(ex.targets, ex.fired) for ex in alone] == [([(None, "bob")], False)]
