"""Telling photod's own writes apart from other tools' edits.

The durable mechanism is the index: after rewriting a photo, photod stores the file's new
(size, mtime_ns) in its ``photos`` row, which is exactly what the watcher and the start-up
reconcile compare, so the write is not seen as a change. :class:`RecentWrites` covers the
moment between the rename and that update for a watcher that wants to ask directly.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import sqlite_utils

from photod.metadata.atomic import Snapshot


def record_own_write(
    db: sqlite_utils.Database,
    photo_id: int,
    before: tuple[int, int],
    after: Snapshot,
    content_hash: str | None = None,
) -> bool:
    """Store the photo's post-write size, mtime (and hash); run inside the index writer.

    Only a row that still shows the pre-write state is updated: if another change was
    recorded meanwhile, that one must win. Returns whether the row was updated.
    """
    cur = db.conn.execute(
        "UPDATE photos SET size = ?, mtime_ns = ?, content_hash = coalesce(?, content_hash), "
        "updated_at = ? WHERE id = ? AND size = ? AND mtime_ns = ?",
        (after.size, after.mtime_ns, content_hash, time.time(), photo_id, before[0], before[1]),
    )
    return cur.rowcount > 0


class RecentWrites:
    """The files photod rewrote lately, with the state it left them in (thread-safe)."""

    def __init__(self, ttl_seconds: float = 300.0) -> None:
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._states: dict[str, tuple[int, int, float]] = {}

    def note(self, path: Path, state: Snapshot, now: float) -> None:
        """Remember that photod left ``path`` as ``state`` at time ``now``."""
        if state.size is None or state.mtime_ns is None:
            return
        with self._lock:
            self._states[str(path)] = (state.size, state.mtime_ns, now)
            expired = [p for p, (_s, _m, t) in self._states.items() if now - t > self._ttl]
            for p in expired:
                del self._states[p]

    def is_ours(self, path: Path, now: float) -> bool:
        """The file is still exactly as photod left it (so an event for it is photod's own)."""
        with self._lock:
            entry = self._states.get(str(path))
        if entry is None or now - entry[2] > self._ttl:
            return False
        try:
            st = os.stat(path)
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns) == entry[:2]
