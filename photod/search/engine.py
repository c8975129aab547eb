"""The search engine: one query, ranked lists from the index and from semantic search,
fused into one ranking (reciprocal rank fusion) with a score per photo.

The lists:

- ``text``: photos whose names, tags, captions, answers, place, folder, file, camera, lens or
  date words hold every wanted word, ranked by BM25's term-frequency score (a name or tag
  weighs more than a caption word; only the most recent ``bound`` matches are scored, so a
  common word stays fast);
- ``semantic``: what a :class:`SemanticRanker` (CLIP's text tower over the stored image
  embeddings) ranks for the query's words, kept to the photos that meet its filters;
- ``date``: for a query of filters only, the photos that meet them, newest taken first.

A photo's score is the sum over the lists it is in of ``1 / (k + rank)`` (rank from 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from photod.search.plan import build_plan, find_concept, has_text, without_words
from photod.search.query import QueryError, parse
from photod.search.results import Result, SearchResults, explain

if TYPE_CHECKING:
    from photod.index import Index

Mode = Literal["auto", "exact", "semantic"]
SEMANTIC_OFF = (
    "semantic search is off (no CLIP text model): matched names, tags, captions, places, "
    "folders and dates only"
)


@runtime_checkable
class SemanticRanker(Protocol):
    """Ranks photos by how well their image matches a text (CLIP), for the engine to fuse."""

    def rank(self, text: str, limit: int) -> list[tuple[int, float]]:
        """(photo_id, similarity), best first, already thresholded."""
        ...


def fuse(lists: dict[str, list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: (photo id, score) best first; ties go to the newer id.

    A pure ranking function: each list is photo ids best first.
    """
    scores: dict[int, float] = {}
    for ids in lists.values():
        for rank, pid in enumerate(ids, start=1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], -item[0]))


class SearchEngine:
    """Runs queries of the query language (:mod:`photod.search.query`) over one index."""

    def __init__(
        self,
        index: Index,
        ranker: SemanticRanker | None = None,
        *,
        bound: int = 200,
        rrf_k: int = 60,
    ) -> None:
        """``ranker``: semantic search, or None when CLIP is off; ``bound``: how many matches
        of the words are scored at most; ``rrf_k``: the fusion's rank offset."""
        self._index = index
        self._ranker = ranker
        self.bound = bound
        self.rrf_k = rrf_k

    def search(
        self, text: str, *, limit: int = 50, offset: int = 0, mode: Mode = "auto"
    ) -> SearchResults:
        """The photos matching ``text``, best first (QueryError when it is malformed).

        ``limit`` results from the ``offset``-th (a page); ``mode``: ``exact`` leaves semantic
        search out, ``semantic`` uses only it (plus the query's filters), ``auto`` fuses both
        when a ranker is there.
        """
        query = parse(text)
        plan = build_plan(query, self._index.concepts.all())
        notes: list[str] = []
        lists: dict[str, list[int]] = {}
        similarity: dict[int, float] = {}
        words = query.free_text()
        if mode == "semantic":
            if self._ranker is None:
                raise QueryError("--semantic: " + SEMANTIC_OFF.split(":")[0])
            if not words:
                raise QueryError("--semantic needs words to look for, not only filters")
        if has_text(plan) and mode != "semantic":
            lists["text"] = [pid for pid, _ in self._index.search.ranked(plan, self.bound)]
        if words and mode != "exact":
            if self._ranker is None:
                notes.append(SEMANTIC_OFF)
            else:
                ranked = self._ranker.rank(words, self.bound)
                kept = self._index.search.keep(without_words(plan), [p for p, _ in ranked])
                lists["semantic"] = [p for p, _ in ranked if p in kept]
                similarity = {p: s for p, s in ranked if p in kept}
        if not has_text(plan):
            lists["date"] = self._index.search.by_date(plan, offset + limit, self.bound)
        top = fuse(lists, self.rrf_k)[offset : offset + limit]
        return self._results(text, mode, plan, top, similarity, notes)

    def _results(self, text, mode, plan, top, similarity, notes) -> SearchResults:
        ids = [pid for pid, _ in top]
        summaries = self._index.search.summaries(ids, plan)
        results: list[Result] = []
        for pid, score in top:
            if pid in summaries:
                results.append(explain(summaries[pid], score, plan, similarity.get(pid)))
        return SearchResults(query=text, mode=mode, results=results, notes=notes)

    def concept_photos(self, name: str, *, limit: int = 50) -> SearchResults:
        """The photos a concept (a person, pet or object, by name) was found in, newest first."""
        concept = find_concept(self._index.concepts.all(), "", name, name)
        return self.search(f'{concept.kind}:"{concept.name}"', limit=limit, mode="exact")
