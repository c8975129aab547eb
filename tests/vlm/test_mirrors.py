"""Mirror-image training examples get targets of their own, captioned by the real toy BLIP-2."""

from __future__ import annotations

import numpy as np
import pytest

from photod.vlm.targets import mirrored_targets
from photod_lab.evaluation.myvlm import MyVLMPersonalizer
from photod_lab.toyworld.concepts import concept_scene, toy_concepts
from photod_lab.toyworld.fixture import fixture_dir


@pytest.fixture(scope="module")
def session():
    return MyVLMPersonalizer(fixture_dir("toy-blip2")).session


@pytest.fixture(scope="module")
def star():
    """The dotted star (identifier "bob") left of two ordinary objects in a row."""
    concept = next(c for c in toy_concepts() if c.key == "dotted_star")
    rng = np.random.default_rng(5)
    while True:
        scene = concept_scene(rng, [concept], 2)
        if scene.layout == "row" and scene.objects[0].concept == concept.key:
            return concept, scene


def test_a_mirror_image_is_captioned_anew(session, star):
    concept, scene = star
    phrases = [o.phrase for o in scene.objects]
    assert phrases[0] == concept.class_phrase  # the star is on the left
    got = mirrored_targets(
        session,
        [scene.image()],
        concept.identifier,
        concept.class_phrase,
        concept.class_word,
        ("horizontal",),
    )
    assert len(got) == 1
    view, targets = got[0]
    # The target follows the mirrored picture: the star, now named, is on the right.
    assert targets == [(None, " left of ".join(["bob", *phrases[1:]][::-1]))]
    assert np.array_equal(np.asarray(view), np.asarray(scene.image())[:, ::-1])


def test_mirror_images_without_the_concept_are_left_out(session, star):
    _, scene = star
    assert (
        mirrored_targets(session, [scene.image()], "bob", "a blue whale", "whale", ("horizontal",))
        == []
    )
    assert mirrored_targets(session, [scene.image()], "bob", "a yellow star", "star", ()) == []
    # A bare class word is not enough: "a yellow star" is not "a purple star".
    assert (
        mirrored_targets(session, [scene.image()], "bob", "a purple star", "star", ("horizontal",))
        == []
    )
