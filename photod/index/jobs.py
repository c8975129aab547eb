"""The persistent job queue, stored in the index.

A job is queued when a photo needs work (created, changed, moved, deleted). It is marked
``running`` when claimed and deleted only when its results are committed, so after a crash
(even ``kill -9``) :func:`recover` puts every unfinished job back and a restart finishes it.
Every function takes the writer's ``db`` and runs inside the writer's transaction.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

INDEX = "index"  # (re-)index the photo at path
DELETE = "delete"  # the file at path is gone
MOVE = "move"  # payload {"src": old path}: the file moved to path


@dataclass(frozen=True)
class Job:
    """One unit of queued work."""

    id: int
    kind: str
    path: str
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


def enqueue(
    db: sqlite_utils.Database, kind: str, path: str, payload: dict[str, Any] | None = None
) -> bool:
    """Queue a job unless the same (kind, path) is already queued; True if a job was added."""
    now = time.time()
    cur = db.conn.execute(
        "INSERT INTO jobs (kind, path, payload, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (kind, path) WHERE state = 'queued' DO UPDATE SET "
        "payload = excluded.payload, updated_at = excluded.updated_at",
        (kind, path, json.dumps(payload) if payload else None, now, now),
    )
    return cur.rowcount > 0


def enqueue_many(db: sqlite_utils.Database, kind: str, paths: list[str]) -> int:
    """Queue one job per path (deduplicated); return how many were queued or refreshed."""
    return sum(enqueue(db, kind, p) for p in paths)


def claim(db: sqlite_utils.Database, limit: int) -> list[Job]:
    """Mark up to ``limit`` queued jobs running (oldest first) and return them."""
    rows = db.conn.execute(
        "SELECT id, kind, path, payload, attempts FROM jobs WHERE state = 'queued' "
        "ORDER BY id LIMIT ?",
        (limit,),
    ).fetchall()
    if not rows:
        return []
    now = time.time()
    db.conn.executemany(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ?",
        [(now, r[0]) for r in rows],
    )
    return [
        Job(
            id=r[0],
            kind=r[1],
            path=r[2],
            payload=json.loads(r[3]) if r[3] else {},
            attempts=r[4] + 1,
        )
        for r in rows
    ]


def complete(db: sqlite_utils.Database, job_id: int) -> None:
    """The job's work is committed: remove it."""
    db.conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))


def recover(db: sqlite_utils.Database, max_attempts: int) -> tuple[int, list[Job]]:
    """After a crash: re-queue the jobs that were running.

    A job that was already claimed ``max_attempts`` times is not retried (it probably crashed
    photod itself, e.g. a decoder segfault); it is returned so the caller records a failure.
    Returns (number re-queued, poisoned jobs).
    """
    rows = db.conn.execute(
        "SELECT id, kind, path, payload, attempts FROM jobs WHERE state = 'running'"
    ).fetchall()
    poisoned = [
        Job(id=r[0], kind=r[1], path=r[2], payload=json.loads(r[3]) if r[3] else {}, attempts=r[4])
        for r in rows
        if r[4] >= max_attempts
    ]
    for job in poisoned:
        complete(db, job.id)
    requeued = 0
    for r in rows:
        if r[4] >= max_attempts:
            continue
        # A queued twin may exist (the photo changed again while it ran): keep just that one.
        twin = db.conn.execute(
            "SELECT 1 FROM jobs WHERE state = 'queued' AND kind = ? AND path = ?", (r[1], r[2])
        ).fetchone()
        if twin:
            complete(db, r[0])
        else:
            db.conn.execute("UPDATE jobs SET state = 'queued' WHERE id = ?", (r[0],))
        requeued += 1
    return requeued, poisoned


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Jobs per state."""
    return dict(db.conn.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
