"""The toy world's VQA breakdown: which questions a base model gets right."""

from __future__ import annotations

from photod_lab.toyworld.metrics import accuracy_by_kind, question_kind, share_correct
from photod_lab.toyworld.scenes import SceneGenerator


def test_every_generated_question_has_a_kind_by_object_count() -> None:
    kinds = set()
    for scene in SceneGenerator(3).batch(40):
        for question, _ in scene.qa:
            kinds.add(question_kind(question, len(scene.objects)))
    # Counting, colours of 1-3 objects, places in 2-3 object layouts (a lone object has none).
    assert kinds == {"count", "colour/1", "colour/2", "colour/3", "where/2", "where/3"}


def test_accuracy_by_kind_groups_results() -> None:
    results = [("count", True), ("where/2", False), ("where/2", True), ("count", True)]
    assert accuracy_by_kind(results) == {"count": 1.0, "where/2": 0.5}
    assert share_correct(results) == 0.75
    assert share_correct([]) == 0.0
