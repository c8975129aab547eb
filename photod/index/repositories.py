"""Typed repositories of :class:`~photod.index.facade.Index`: each method reads on the
caller's read connection or writes (one transaction) through the index's writer."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photod.index import (
    bulk,
    clusters,
    concepts,
    features,
    jobs,
    photos,
    queries,
    search,
    search_results,
    training,
    vectors,
)

if TYPE_CHECKING:
    from photod.index.facade import Index


class _Repository:
    def __init__(self, index: Index) -> None:
        self._index = index


class PhotoRepository(_Repository):
    """Photos, their failures and the photo-level queries."""

    def indexed_hash(self, path: Path | str) -> str | None:
        """Content hash of the photo indexed at ``path``, or None."""
        return queries.indexed_hash(self._index.reader(), str(path))

    def id_of(self, path: Path | str) -> int | None:
        """The id of the photo at ``path``, or None."""
        return queries.photo_id(self._index.reader(), str(path))

    def state(self, path: Path | str) -> tuple[str, int, int] | None:
        """(content_hash, size, mtime_ns) of an indexed photo, or None."""
        return queries.photo_state(self._index.reader(), str(path))

    def known_versions(self) -> tuple[dict[str, tuple[int, int]], dict[str, tuple]]:
        """(size, mtime_ns) by path of the present photos and of the failures."""
        return queries.known_versions(self._index.reader())

    def indexed_under(self, target: Path | str) -> list[tuple[int, str, int, int]]:
        """(id, path, size, mtime_ns) of the indexed photos at or below ``target``."""
        return queries.indexed_under(self._index.reader(), str(target))

    def sample_indexed(self, limit: int) -> list[tuple[str, str]]:
        """(path, content hash) of up to ``limit`` indexed photos drawn at random."""
        return queries.sample_indexed(self._index.reader(), limit)

    def record_failure(
        self, path: str, stage: str, reason: str, *, version: tuple[int, int] | None = None
    ) -> None:
        """Remember why ``path`` could not be processed (see :func:`photos.record_failure`)."""
        self._index.write(
            lambda db: photos.record_failure(db, path, stage, reason, version=version)
        )

    def drop_failures(self, paths: list[str]) -> None:
        """Forget the failure records of these (gone) paths."""
        self._index.write(lambda db: photos.drop_failures(db, paths))

    def purge_missing(self) -> int:
        """Delete the photos that stayed missing; return how many."""
        return self._index.write(photos.purge_missing)

    def add_bulk(self, rows: Sequence[bulk.BulkPhoto], *, model: str = "bulk") -> int:
        """Insert many new photos and their results in one transaction (see
        :func:`bulk.add_photos`); return the first new id."""
        return self._index.write(lambda db: bulk.add_photos(db, rows, model=model))

    def failures(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent failures."""
        return queries.failures(self._index.reader(), limit)


class SearchRepository(_Repository):
    """The searches behind ``photod search`` (plans are built by :mod:`photod.search`)."""

    def ranked(self, plan: search.Plan, bound: int) -> list[tuple[int, float]]:
        """(photo id, relevance) of the photos matching the plan's words, best first."""
        return search.ranked(self._index.reader(), plan, bound)

    def by_date(self, plan: search.Plan, limit: int, bound: int) -> list[int]:
        """Ids of the photos meeting the plan, newest taken first."""
        return search.by_date(self._index.reader(), plan, limit, bound)

    def keep(self, plan: search.Plan, ids: list[int]) -> set[int]:
        """Those of ``ids`` that meet the plan."""
        return search.keep(self._index.reader(), plan, ids)

    def summaries(self, ids: list[int], plan: search.Plan | None = None) -> dict:
        """What results show of these photos (with the snippet of the plan's words)."""
        match = search.compile_plan(plan)[0] if plan is not None else None
        return search_results.summaries(self._index.reader(), ids, match)


class JobRepository(_Repository):
    """The persistent job queue (each call is its own writer transaction)."""

    def enqueue(self, kind: str, path: str, payload: dict[str, Any] | None = None) -> bool:
        """Queue a job unless the same one is queued; True if one was added."""
        return self._index.write(lambda db: jobs.enqueue(db, kind, path, payload))

    def enqueue_many(self, kind: str, paths: list[str]) -> int:
        """Queue one job per path; return how many were queued or refreshed."""
        return self._index.write(lambda db: jobs.enqueue_many(db, kind, paths))

    def claim(self, limit: int) -> list[jobs.Job]:
        """Mark up to ``limit`` queued jobs running and return them."""
        return self._index.write(lambda db: jobs.claim(db, limit))

    def complete(self, job_id: int) -> None:
        """Remove a job whose work is committed."""
        self._index.write(lambda db: jobs.complete(db, job_id))

    def recover(self, max_attempts: int) -> tuple[int, list[jobs.Job]]:
        """Re-queue the jobs a crash left running (see :func:`jobs.recover`)."""
        return self._index.write(lambda db: jobs.recover(db, max_attempts))

    def counts(self) -> dict[str, int]:
        """Jobs per state (read through the writer: the daemon's loop must see its own
        latest writes)."""
        return self._index.write(jobs.counts)


class ConceptRepository(_Repository):
    """Concepts and their examples (reads; combined writes go through ``index.write``)."""

    def get(self, concept_id: int) -> concepts.Concept:
        """The concept with ``concept_id`` (ConceptError if none)."""
        return concepts.get_concept(self._index.reader(), concept_id)

    def find(self, name: str) -> concepts.Concept | None:
        """The concept named ``name`` (case-insensitive), or None."""
        return concepts.find_concept(self._index.reader(), name)

    def require(self, name: str) -> concepts.Concept:
        """The concept named ``name``, or a ConceptError listing what exists."""
        return concepts.require_concept(self._index.reader(), name)

    def all(self) -> list[concepts.Concept]:
        """Every concept, by name."""
        return concepts.list_concepts(self._index.reader())

    def examples(self, concept_id: int) -> list[concepts.Example]:
        """The concept's examples, oldest first."""
        return concepts.list_examples(self._index.reader(), concept_id)

    def signature(self) -> tuple:
        """Changes whenever a concept is added, removed or switched to another version."""
        return concepts.signature(self._index.reader())

    def trained_versions(self, *, exclude: int | None = None) -> list[tuple]:
        """(id, active version) of every trained concept but ``exclude``."""
        return concepts.trained_versions(self._index.reader(), exclude=exclude)

    def names(self, concept_id: int) -> tuple[str, str] | None:
        """(name, identifier) of a concept, or None."""
        return concepts.names(self._index.reader(), concept_id)

    def rejected_on(self, hashes: list[str]) -> dict[str, set[int]]:
        """Concept ids the user rejected, by photo content hash (see ``not_concepts``)."""
        return concepts.rejected_on(self._index.reader(), hashes)


class TrainingRepository(_Repository):
    """Queued and running concept trainings."""

    def requeue_running(self) -> int:
        """Queue again the trainings a stop interrupted."""
        return self._index.write(training.requeue_running)

    def queued(self) -> list[tuple[int, float]]:
        """(concept id, due time) of the queued trainings (through the writer: the
        scheduler must see what it just wrote)."""
        return self._index.write(training.queued)

    def claim(self, concept_id: int, due: float) -> bool:
        """Mark a training running if it is still due at ``due``."""
        return self._index.write(lambda db: training.claim(db, concept_id, due))

    def fail(self, concept_id: int, error: str, *, retry_at: float, max_attempts: int) -> None:
        """Record a failed training (retried at ``retry_at`` until ``max_attempts``)."""
        self._index.write(
            lambda db: training.fail(
                db, concept_id, error, retry_at=retry_at, max_attempts=max_attempts
            )
        )

    def status(self) -> list[dict]:
        """Queued, running and failed trainings, for ``photod status``."""
        return queries.training_status(self._index.reader())


class FeatureRepository(_Repository):
    """CLIP embeddings (cached by content) and stored face embeddings."""

    def store_clip(self, rows: Sequence[tuple[str, str, bytes]]) -> Future[None]:
        """Cache CLIP embeddings without waiting for the commit."""
        return self._index.submit(lambda db: features.store_clip(db, rows))

    def cached_clip(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached embeddings of these content hashes."""
        return features.cached_clip(self._index.reader(), model, hashes)

    def library_clip(self, model: str) -> list[tuple[str, np.ndarray]]:
        """(content hash, embedding) of every indexed content with a cached embedding."""
        return features.library_clip(self._index.reader(), model)

    def photos_without_clip(self, model: str) -> list[tuple[int, str, str]]:
        """(id, path, content hash) of indexed photos with no cached embedding."""
        return features.photos_without_clip(self._index.reader(), model)

    def indexed_photos(self) -> list[tuple[int, str, str]]:
        """(id, path, content hash) of every indexed photo."""
        return features.indexed_photos(self._index.reader())

    def iter_photo_clip(self, model: str) -> Iterator[tuple[list[int], np.ndarray]]:
        """Batches of (photo ids, embeddings) of every present photo."""
        return features.iter_photo_clip(self._index.reader(), model)

    def iter_face_embeddings(self, model: str | None) -> Iterator[tuple[list[int], np.ndarray]]:
        """Batches of (photo ids, embeddings) of every stored face of ``model``."""
        return features.iter_face_embeddings(self._index.reader(), model)

    def stored_faces(self, path: Path | str, content_hash: str, model: str) -> list[tuple]:
        """(box, score, embedding, landmarks) of the faces stored for this content."""
        return features.stored_faces(self._index.reader(), str(path), content_hash, model)


class VectorRepository(_Repository):
    """CLIP embeddings as one searchable matrix per model, kept in memory between calls."""

    def __init__(self, index: Index) -> None:
        super().__init__(index)
        self._loaded: dict[str, vectors.ContentVectors] = {}
        self._lock = threading.Lock()  # one reader brings the matrix up to date at a time

    def contents(self, model: str) -> vectors.ContentVectors:
        """Every embedding of ``model``: read once, then only the rows stored since."""
        db = self._index.reader()
        with self._lock:
            last = vectors.last_rowid(db)
            held = self._loaded.get(model)
            if held is None or last < held.version:  # rows deleted at the end: start over
                held = self._loaded[model] = vectors.ContentVectors(model)
            if last != held.version:
                held.add(*vectors.embeddings_after(db, model, held.version), version=last)
            return held

    def nearest_photos(
        self, model: str, query: np.ndarray, limit: int, min_score: float = -1.0
    ) -> list[tuple[int, float]]:
        """(photo id, cosine similarity) of up to ``limit`` present photos nearest to
        ``query`` and scoring at least ``min_score``, best first."""
        # Twice the contents asked for: some may be of photos that are gone.
        near = self.contents(model).nearest(query, 2 * limit + 8, min_score)
        score = dict(near)
        photos = self.photos_of([h for h, _ in near])
        ranked = sorted(((-score[h], pid) for pid, _, h in photos))
        return [(pid, -s) for s, pid in ranked[:limit]]

    def photos_of(self, hashes: Sequence[str]) -> list[tuple[int, str, str]]:
        """(id, path, content hash) of the present photos with these contents, by path."""
        return vectors.photos_of(self._index.reader(), hashes)

    def exact_copies(self) -> list[str]:
        """Content hashes that more than one present photo has."""
        return vectors.exact_copies(self._index.reader())


class ClusterRepository(_Repository):
    """Groups of unnamed faces."""

    def members(self) -> list[tuple[int, int, str]]:
        """(cluster id, face id, photo path) of every clustered face."""
        return clusters.members(self._index.reader())


class MetaRepository(_Repository):
    """Small facts (daemon state, last activity) and the overview for ``photod status``."""

    def set(self, key: str, value: str) -> None:
        """Store a fact."""
        self._index.write(lambda db: photos.set_meta(db, key, value))

    def status(self) -> dict[str, Any]:
        """Counts for ``photod status``."""
        return queries.status(self._index.reader())
