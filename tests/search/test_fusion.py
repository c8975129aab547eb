"""The engine's ranking: reciprocal rank fusion of the text list and a semantic ranker.

The ranker here is a small class written for the test: :class:`SemanticRanker` is a pure
ranking interface (text in, photo ids and similarities out), so a fixed ranking over the
real photo ids of a real index exercises the fusion exactly as CLIP's would.
"""

from __future__ import annotations

import pytest

from photod.index import Index
from photod.index.bulk import BulkPhoto
from photod.index.concepts import add_concept
from photod.search.engine import SEMANTIC_OFF, SearchEngine, SemanticRanker, fuse
from photod.search.query import QueryError


class FixedRanker:
    """Ranks the photos at ``paths`` in that order, whatever the text."""

    def __init__(self, index: Index, paths: list[str]) -> None:
        self.ids = [index.photos.id_of(p) for p in paths]
        self.asked: list[tuple[str, int]] = []

    def rank(self, text: str, limit: int) -> list[tuple[int, float]]:
        self.asked.append((text, limit))
        return [(pid, 0.9 - 0.1 * i) for i, pid in enumerate(self.ids[:limit])]


@pytest.fixture
def index(tmp_path):
    index = Index(tmp_path / "index.sqlite").start()
    alice = index.write(lambda db: add_concept(db, "Alice", kind="person", class_word="woman"))
    index.photos.add_bulk(
        [
            BulkPhoto("/lib/beach1.jpg", "2020-01-01T00:00:00", captions=["beach beach beach"]),
            BulkPhoto("/lib/beach2.jpg", "2021-01-01T00:00:00", captions=["a beach, a dog"]),
            BulkPhoto(
                "/lib/sea.jpg", "2022-01-01T00:00:00", captions=["waves"], concept_ids=[alice.id]
            ),
            BulkPhoto("/lib/desk.jpg", "2023-01-01T00:00:00", captions=["a desk"]),
        ]  # fmt: skip
    )
    yield index
    index.close()


def _paths(results) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in results.results]


def test_fuse_is_reciprocal_rank_fusion():
    fused = fuse({"text": [1, 2, 3], "semantic": [3, 4]}, k=60)
    assert [pid for pid, _ in fused] == [3, 1, 4, 2]  # 4 and 2 tie: the newer id first
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fuse({"a": [5], "b": [6]}) == [(6, 1 / 61), (5, 1 / 61)]  # ties: newer id first


def test_text_and_semantic_lists_are_fused(index):
    ranker = FixedRanker(index, ["/lib/sea.jpg", "/lib/beach2.jpg"])
    assert isinstance(ranker, SemanticRanker)
    engine = SearchEngine(index, ranker)
    results = engine.search("beach")
    # beach2 is in both lists; sea only semantically; beach1 only by its words.
    assert _paths(results) == ["beach2.jpg", "sea.jpg", "beach1.jpg"]
    assert results.notes == [] and ranker.asked == [("beach", engine.bound)]
    sea = results.results[1]
    assert sea.similarity == pytest.approx(0.9) and sea.matched[-1].field == "semantic"
    assert _paths(engine.search("beach", mode="exact")) == ["beach1.jpg", "beach2.jpg"]
    assert _paths(engine.search("beach", mode="semantic")) == ["sea.jpg", "beach2.jpg"]


def test_filters_and_exclusions_hold_for_semantic_matches(index):
    engine = SearchEngine(index, FixedRanker(index, ["/lib/sea.jpg", "/lib/desk.jpg"]))
    assert _paths(engine.search("beach after:2022-06", mode="semantic")) == ["desk.jpg"]
    assert _paths(engine.search("beach -person:Alice", mode="semantic")) == ["desk.jpg"]
    # beach1 first by its words, sea first semantically: a tie, the newer photo first.
    assert _paths(engine.search("beach -dog")) == ["sea.jpg", "beach1.jpg", "desk.jpg"]


def test_without_a_ranker_the_engine_says_so_once(index):
    engine = SearchEngine(index)
    results = engine.search("beach dog")
    assert _paths(results) == ["beach2.jpg"] and results.notes == [SEMANTIC_OFF]
    assert engine.search("person:Alice").notes == []  # no words: nothing semantic to miss
    with pytest.raises(QueryError, match="--semantic: semantic search is off"):
        engine.search("beach", mode="semantic")


def test_words_or_filters(index):
    engine = SearchEngine(index)
    assert _paths(engine.search("dog OR person:Alice")) == ["sea.jpg", "beach2.jpg"]
    assert _paths(engine.search("desk OR -beach")) == ["desk.jpg", "sea.jpg"]


def test_filters_only_are_ordered_newest_first(index):
    engine = SearchEngine(index, FixedRanker(index, ["/lib/beach1.jpg"]))
    results = engine.search("after:2021")
    assert _paths(results) == ["desk.jpg", "sea.jpg", "beach2.jpg"]
    assert [r.score for r in results.results] == sorted(
        (r.score for r in results.results), reverse=True
    )
    assert _paths(engine.search("beach", limit=1, mode="exact")) == ["beach1.jpg"]
    assert _paths(engine.search("after:2021", limit=1, offset=1)) == ["sea.jpg"]  # page 2
    assert _paths(engine.search("beach", limit=1, offset=1, mode="exact")) == ["beach2.jpg"]
