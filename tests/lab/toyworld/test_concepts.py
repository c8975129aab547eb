"""Toy concepts: never in base data, emittable identifiers, MyVLM-layout dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from photod_lab.evaluation.dataset import load_dataset
from photod_lab.toyworld.concepts import (
    base_scene_generator,
    check_identifiers,
    concept_looks,
    toy_concepts,
)
from photod_lab.toyworld.dataset import write_toy_dataset
from photod_lab.toyworld.scenes import NAMES
from photod_lab.toyworld.tokenizer import build_tokenizer


def test_concepts_are_not_in_base_data() -> None:
    concepts = toy_concepts()
    looks = concept_looks(concepts)
    assert len(looks) == sum(len(c.decorations) for c in concepts)
    decorated = 0
    for s in base_scene_generator(9).batch(1500):
        for o in s.objects:
            # Not even one of a concept's decorations on an object of its shape and colour.
            assert not {(o.spec.shape, o.spec.colour, d) for d in o.spec.decorations} & looks
            assert o.concept is None
            decorated += bool(o.spec.decorations)
    assert decorated > 500


def test_identifiers_are_emittable_and_untied() -> None:
    concepts = toy_concepts()
    check_identifiers(concepts)
    vocab = build_tokenizer().get_vocab()
    for c in concepts:
        assert c.identifier in NAMES.values() and c.identifier in vocab
    kinds = {c.kind for c in concepts}
    assert kinds == {"object", "person"}


def test_check_identifiers_rejects_same_shape_name() -> None:
    bad = toy_concepts()[0]
    bad = type(bad)(bad.key, "rex", "star", bad.colour, bad.decorations)  # rex is a star
    with pytest.raises(ValueError):
        check_identifiers([bad])


def test_dataset_layout(tmp_path: Path) -> None:
    root = write_toy_dataset(tmp_path / "ds", per_concept=6, negatives=4, multi=3)
    data = load_dataset(root)
    assert len(data.concepts) == len(toy_concepts())
    star = next(c for c in data.concepts if c.info.key == "dotted_star")
    assert star.info.identifier == "bob" and star.info.class_phrase == "a yellow star"
    assert len(star.images) == 6
    for img in star.images:
        (cap,) = star.captions[img.name]
        assert "bob" in cap.split()
        assert cap.replace("bob", "a yellow star") == star.scene_captions[img.name]
    assert len(data.negatives) == 4 and len(data.multi) == 3
    for m in data.multi:
        assert 2 <= len(m.concepts) <= 3
    caps = json.loads((root / "_negatives" / "captions.json").read_text())
    ids = {c.identifier for c in toy_concepts()}
    assert not any(set(v[0].split()) & ids for v in caps.values())
