"""The one object through which photod reads and writes its index.

As datasette's ``Database`` does, :class:`Index` owns every connection: the one
:class:`~photod.index.writer.IndexWriter` (writes on its thread, each unit of work in its own
``BEGIN IMMEDIATE`` transaction) and one read connection per calling thread (WAL lets them
read while the writer writes). Callers use its typed repositories (``index.photos``,
``index.jobs``, ``index.concepts``...). Several index functions that must commit together go
through :meth:`Index.write` / :meth:`Index.submit` as ``fn(db)``, where ``fn`` only calls
functions of :mod:`photod.index`: no SQL is written outside this package.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from photod.index.db import connect
from photod.index.repositories import (
    ClusterRepository,
    ConceptRepository,
    FeatureRepository,
    JobRepository,
    MetaRepository,
    PhotoRepository,
    SearchRepository,
    TrainingRepository,
    VectorRepository,
)
from photod.index.writer import IndexWriter

T = TypeVar("T")


class Index:
    """The SQLite index of one photod process: one writer, per-thread readers, repositories."""

    def __init__(
        self, path: Path, *, busy_timeout_ms: int = 10_000, readonly: bool = False
    ) -> None:
        """``readonly``: only read an existing index (``photod status`` beside a running
        daemon); :meth:`start` is then refused and nothing is created or migrated."""
        self.path = Path(path)
        self.readonly = readonly
        self._busy_timeout_ms = busy_timeout_ms
        self._writer = IndexWriter(self.path, busy_timeout_ms=busy_timeout_ms)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._readers: list[sqlite_utils.Database] = []
        self.photos = PhotoRepository(self)
        self.jobs = JobRepository(self)
        self.concepts = ConceptRepository(self)
        self.training = TrainingRepository(self)
        self.features = FeatureRepository(self)
        self.clusters = ClusterRepository(self)
        self.meta = MetaRepository(self)
        self.search = SearchRepository(self)
        self.vectors = VectorRepository(self)

    def start(self) -> Index:
        """Open (creating and migrating if needed) the index in the writer thread."""
        if self.readonly:
            raise RuntimeError(f"index {self.path} was opened read-only")
        self._writer.start()
        return self

    def close(self) -> None:
        """Finish the queued writes, then close the writer and every read connection."""
        self._writer.close()
        with self._lock:
            readers, self._readers = self._readers, []
            # A thread that reads after close() gets a fresh connection, not a closed one.
            self._local = threading.local()
        for db in readers:
            db.close()

    def __enter__(self) -> Index:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reader(self) -> sqlite_utils.Database:
        """The calling thread's read connection (for functions of :mod:`photod.index`)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, busy_timeout_ms=self._busy_timeout_ms, readonly=self.readonly)
            with self._lock:
                self._local.db = db
                self._readers.append(db)
        return db

    def read(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """``fn(db)`` on the calling thread's read connection."""
        return fn(self.reader())

    def write(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """``fn(db)`` in one writer transaction; wait for its result."""
        return self._writer.call(fn)

    def submit(self, fn: Callable[[sqlite_utils.Database], T]) -> Future[T]:
        """Queue ``fn(db)`` in one writer transaction; the future holds its result."""
        return self._writer.submit(fn)
