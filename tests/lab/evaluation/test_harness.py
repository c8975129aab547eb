"""Harness pieces: splits, word matching, protocol conformance."""

from __future__ import annotations

import numpy as np
import pytest

from photod_lab.evaluation.harness import draw_splits, summarise
from photod_lab.evaluation.protocol import Personalizer
from photod_lab.evaluation.scoring import contains_word, replace_word


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
    from photod_lab.evaluation.baseline import BaseModelPersonalizer

    members = {"train", "caption"}
    assert members <= set(dir(BaseModelPersonalizer))
    assert members <= set(dir(Personalizer))


class _Scripted:
    """A personalizer whose captions are given (the scoring is what is under test)."""

    name = "scripted"

    def __init__(self, captions: list[str]) -> None:
        self.captions = captions

    def train(self, concept, images, targets):
        return concept.key

    def caption(self, images, fired):
        return self.captions[: len(images)]


def test_multi_concept_scores_are_pooled_and_per_count(tmp_path) -> None:
    from PIL import Image

    from photod_lab.evaluation.dataset import ConceptData, EvalDataset, MultiScene
    from photod_lab.evaluation.harness import EvalConfig, Evaluator
    from photod_lab.evaluation.protocol import ConceptInfo

    infos = [
        ConceptInfo("a", "bob", "star", "a star"),
        ConceptInfo("b", "zoe", "circle", "a circle"),
        ConceptInfo("c", "max", "square", "a square"),
    ]
    photos = []
    for i in range(3):
        photos.append(tmp_path / f"{i}.png")
        Image.new("RGB", (8, 8)).save(photos[-1])
    multi = [
        MultiScene(photos[0], ["a", "b"], [], "a star left of a circle"),
        MultiScene(photos[1], ["a", "c"], [], "a star above a square"),
        MultiScene(photos[2], ["a", "b", "c"], [], "a star left of a circle left of a square"),
    ]
    data = EvalDataset([ConceptData(i, [], {}) for i in infos], [], multi)
    captions = [
        "bob left of zoe",  # both named, exact
        "bob above a square",  # max missed
        "bob left of zoe left of zoe",  # max missed, nothing extra (zoe is present)
    ]
    ev = Evaluator(_Scripted(captions), EvalConfig(1, 1, 0, "oracle"), progress=False)
    out = ev._multi(data, {"a": "a", "b": "b", "c": "c"}, multi)
    two, three = out["by_count"]["2"], out["by_count"]["3"]
    assert (two["precision"], two["recall"], two["present"]) == (1.0, 0.75, 4)
    assert (three["precision"], three["recall"], three["present"]) == (1.0, pytest.approx(2 / 3), 3)
    assert out["recall"] == pytest.approx(5 / 7) and out["precision"] == 1.0
    assert out["n"] == 3  # photos
    assert out["f1"] == pytest.approx(2 * (5 / 7) / (1 + 5 / 7))
    # The second still describes the scene (max as "a square"); the third does not.
    assert out["scene_accuracy"] == pytest.approx(2 / 3)
    summary = summarise([{"concepts": {}, "multi": out}, {"concepts": {}, "multi": out}])
    assert summary["multi"]["by_count"]["2"]["recall"]["mean"] == pytest.approx(0.75)
