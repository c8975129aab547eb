"""The one writer to the index.

All writes of a photod process go through one :class:`IndexWriter`: a thread that owns the
only writing connection and runs each submitted unit of work in its own ``BEGIN IMMEDIATE``
transaction. Readers open their own connections (WAL lets them read while it writes).
photod code reaches it only through :class:`photod.index.Index`, which owns it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from photod.index.db import open_index

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[sqlite_utils.Database], T]

_STOP = object()


class IndexWriter:
    """Serialises every write of this process through one thread and one connection."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    def start(self) -> IndexWriter:
        """Open (and migrate) the index in the writer thread; raise if that fails."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="photod-index-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise self._start_error
        return self

    def submit(self, work: Work[T]) -> Future[T]:
        """Queue ``work(db)`` to run in its own transaction; the future holds its result."""
        if self._thread is None:
            raise RuntimeError("IndexWriter.start() was not called")
        future: Future[T] = Future()
        self._queue.put((work, future))
        return future

    def call(self, work: Work[T]) -> T:
        """Run ``work(db)`` in its own transaction and wait for its result."""
        return self.submit(work).result()

    def close(self) -> None:
        """Finish the queued work, then close the connection."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> IndexWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        try:
            db = open_index(self.path, busy_timeout_ms=self._busy_timeout_ms)
        except BaseException as exc:  # reported to start()'s caller
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        conn = db.conn
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                work, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    result = work(db)
                    conn.execute("COMMIT")
                except BaseException as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    future.set_exception(exc)
                else:
                    future.set_result(result)
        finally:
            db.close()
