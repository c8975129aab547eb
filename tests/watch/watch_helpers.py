"""Helpers for the watcher tests: the job queue as a list, polling with a timeout, files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from photod.index import Index

DEBOUNCE = 0.1
SETTLE = 0.2
# Longer than debounce + settle + a settle-thread tick: after this, nothing more is coming.
QUIET = DEBOUNCE + SETTLE + 0.35


def queued(index: Index) -> list[tuple]:
    """The queued jobs as (kind, path, payload), oldest first."""
    rows = index.write(
        lambda db: db.conn.execute("SELECT kind, path, payload FROM jobs ORDER BY id").fetchall()
    )
    return [(k, p, json.loads(pl) if pl else None) for k, p, pl in rows]


def wait_for(predicate: Callable[[], object], timeout: float = 5.0, step: float = 0.02) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(step)


def jobs_after_quiet(index: Index, expected: int, timeout: float = 5.0) -> list[tuple]:
    """Wait until ``expected`` jobs are queued, then a quiet period; return all jobs."""
    wait_for(lambda: len(queued(index)) >= expected, timeout)
    time.sleep(QUIET)
    return queued(index)


def write_bytes(path: Path, data: bytes = b"\xff\xd8 not really a jpeg \xff\xd9") -> Path:
    """Create a file (the watcher never decodes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
