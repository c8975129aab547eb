"""Harness pieces: splits, word matching, protocol conformance."""

from __future__ import annotations

import numpy as np
import pytest

from photod.evaluation.harness import draw_splits, summarise
from photod.evaluation.protocol import Personalizer
from photod.evaluation.scoring import contains_word, replace_word


def test_splits_are_disjoint_and_seeded() -> None:
    a = draw_splits(10, 4, 5, np.random.default_rng(0))
    b = draw_splits(10, 4, 5, np.random.default_rng(0))
    assert a == b
    for train, test in a:
        assert len(train) == 4 and len(test) == 6 and not set(train) & set(test)
    with pytest.raises(ValueError):
        draw_splits(4, 4, 1, np.random.default_rng(0))


def test_identifier_matching_is_whole_word() -> None:
    assert contains_word("bob left of a blue square", "bob")
    assert contains_word("Bob, the star", "bob")
    assert not contains_word("bobby left of a blue square", "bob")
    assert (
        replace_word("bob above bob", "bob", "a yellow star") == "a yellow star above a yellow star"
    )


def test_summary_means_over_concepts_then_splits() -> None:
    splits = [
        {"concepts": {"a": {"recall": 1.0}, "b": {"recall": 0.0}}},
        {"concepts": {"a": {"recall": 1.0}, "b": {"recall": 1.0}}},
    ]
    s = summarise(splits)
    assert s["overall"]["recall"]["mean"] == pytest.approx(0.75)
    assert s["per_concept"]["b"]["recall"]["std"] == pytest.approx(0.5)


def test_baseline_satisfies_protocol() -> None:
    from photod.evaluation.baseline import BaseModelPersonalizer

    members = {"train", "caption"}
    assert members <= set(dir(BaseModelPersonalizer))
    assert members <= set(dir(Personalizer))
