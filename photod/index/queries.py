"""Read-only queries for the CLI and the stages (on a reader connection, never the writer's)."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from photod.index import jobs


def status(db: sqlite_utils.Database) -> dict[str, Any]:
    """Counts for ``photod status``: photos by state, queue, failures, last activity."""
    by_status = dict(db.conn.execute("SELECT status, count(*) FROM photos GROUP BY status"))
    meta = dict(db.conn.execute("SELECT key, value FROM meta"))
    duplicates = db.conn.execute(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM photos "
        "WHERE content_hash IS NOT NULL GROUP BY content_hash HAVING n > 1)"
    ).fetchone()[0]
    return {
        "photos": sum(by_status.values()),
        "by_status": by_status,
        "duplicates": duplicates,
        "jobs": jobs.counts(db),
        "failures": db.conn.execute("SELECT count(*) FROM failures").fetchone()[0],
        "captions": db.conn.execute("SELECT count(*) FROM captions").fetchone()[0],
        "concepts": db.conn.execute("SELECT count(*) FROM concepts").fetchone()[0],
        "last_activity": meta.get("last_activity"),
        "daemon": meta.get("daemon_state"),
        "polling_roots": json.loads(meta.get("polling_roots") or "[]"),
        "training": training_status(db),
    }


def training_status(db: sqlite_utils.Database) -> list[dict]:
    """Queued, running and failed concept-training jobs (for ``photod status``)."""
    rows = db.execute(
        "SELECT c.name, t.state, t.due_at, t.started_at, t.attempts, t.last_error "
        "FROM training_jobs t JOIN concepts c ON c.id = t.concept_id ORDER BY t.due_at"
    ).fetchall()
    keys = ("concept", "state", "due_at", "started_at", "attempts", "last_error")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def failures(db: sqlite_utils.Database, limit: int = 100) -> list[dict[str, Any]]:
    """The most recent failures."""
    rows = db.conn.execute(
        "SELECT path, stage, reason, attempts, failed_at FROM failures "
        "ORDER BY failed_at DESC LIMIT ?",
        (limit,),
    ).fetchall()
    keys = ("path", "stage", "reason", "attempts", "failed_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def photo_state(db: sqlite_utils.Database, path: str) -> tuple[str, int, int] | None:
    """(content_hash, size, mtime_ns) of an indexed photo, or None if not indexed."""
    row = db.conn.execute(
        "SELECT content_hash, size, mtime_ns FROM photos WHERE path = ? AND status = 'indexed'",
        (path,),
    ).fetchone()
    return tuple(row) if row else None


def indexed_hash(db: sqlite_utils.Database, path: str) -> str | None:
    """Content hash of the photo indexed at ``path`` (None if it is not indexed)."""
    row = db.conn.execute(
        "SELECT content_hash FROM photos WHERE path = ? AND status = 'indexed'", (path,)
    ).fetchone()
    return row[0] if row else None


def photo_id(db: sqlite_utils.Database, path: str) -> int | None:
    """The id of the photo at ``path`` (any status), or None."""
    row = db.conn.execute("SELECT id FROM photos WHERE path = ?", (path,)).fetchone()
    return row[0] if row else None


def known_versions(
    db: sqlite_utils.Database,
) -> tuple[dict[str, tuple[int, int]], dict[str, tuple]]:
    """(size, mtime_ns) by path of the present photos, and of the recorded failures."""
    photos = {
        r[0]: (r[1], r[2])
        for r in db.conn.execute(
            "SELECT path, size, mtime_ns FROM photos WHERE status != 'missing'"
        )
    }
    failed = {
        r[0]: (r[1], r[2]) for r in db.conn.execute("SELECT path, size, mtime_ns FROM failures")
    }
    return photos, failed


def holds_version(db: sqlite_utils.Database, path: str, version: tuple[int, int]) -> bool:
    """Whether the index already holds this (size, mtime_ns) of ``path``, as a present photo
    or as a failure (which is not retried until the file changes)."""
    for sql in (
        "SELECT size, mtime_ns FROM photos WHERE path = ? AND status != 'missing'",
        "SELECT size, mtime_ns FROM failures WHERE path = ?",
    ):
        row = db.conn.execute(sql, (path,)).fetchone()
        if row is not None and tuple(row) == tuple(version):
            return True
    return False


def indexed_under(db: sqlite_utils.Database, target: str) -> list[tuple[int, str, int, int]]:
    """(id, path, size, mtime_ns) of the indexed photos at or below ``target``, by path."""
    t = target.rstrip("/")
    return db.conn.execute(
        "SELECT id, path, size, mtime_ns FROM photos WHERE status = 'indexed' "
        "AND (path = ? OR (path >= ? AND path < ?)) ORDER BY path",
        (t, t + "/", t + "0"),
    ).fetchall()


def sample_indexed(db: sqlite_utils.Database, limit: int) -> list[tuple[str, str]]:
    """(path, content hash) of up to ``limit`` indexed photos drawn at random."""
    return db.conn.execute(
        "SELECT path, content_hash FROM photos WHERE status = 'indexed' ORDER BY random() LIMIT ?",
        (limit,),
    ).fetchall()


def paths_of(db: sqlite_utils.Database, ids: list[int] | None = None) -> list[str]:
    """Paths of the photos with these ids, or of every indexed photo when ``ids`` is None."""
    if ids is None:
        rows = db.conn.execute("SELECT path FROM photos WHERE status = 'indexed'")
        return [r[0] for r in rows.fetchall()]
    out: list[str] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.conn.execute(f"SELECT path FROM photos WHERE id IN ({marks})", chunk)
        out += [r[0] for r in rows.fetchall()]
    return out
