"""The ``training_jobs`` table: one row per concept whose retraining is queued or running.

The timing (debounce, cron window) is the scheduler's; these functions only store it. Each
takes the writer's ``db`` inside its transaction (or a reader for :func:`queued`).
"""

from __future__ import annotations

import time

import sqlite_utils


def request(db: sqlite_utils.Database, concept_id: int, due: float, now: float) -> None:
    """Queue the concept's retraining at ``due`` (a newer request replaces an older one)."""
    db.conn.execute(
        "INSERT INTO training_jobs (concept_id, state, due_at, requested_at, attempts) "
        "VALUES (?, 'queued', ?, ?, 0) ON CONFLICT (concept_id) DO UPDATE SET "
        "state = 'queued', due_at = excluded.due_at, requested_at = excluded.requested_at, "
        "attempts = 0, last_error = NULL",
        (concept_id, due, now),
    )


def requeue_running(db: sqlite_utils.Database) -> int:
    """Queue again the trainings a stop interrupted; return how many."""
    return db.conn.execute(
        "UPDATE training_jobs SET state = 'queued' WHERE state = 'running'"
    ).rowcount


def queued(db: sqlite_utils.Database) -> list[tuple[int, float]]:
    """(concept id, due time) of every queued training."""
    return db.conn.execute(
        "SELECT concept_id, due_at FROM training_jobs WHERE state = 'queued'"
    ).fetchall()


def claim(db: sqlite_utils.Database, concept_id: int, due: float) -> bool:
    """Mark the training running if it is still queued for ``due``; True if claimed."""
    cur = db.conn.execute(
        "UPDATE training_jobs SET state = 'running', started_at = ?, "
        "attempts = attempts + 1 WHERE concept_id = ? AND state = 'queued' AND due_at = ?",
        (time.time(), concept_id, due),
    )
    return cur.rowcount == 1


def fail(
    db: sqlite_utils.Database, concept_id: int, error: str, *, retry_at: float, max_attempts: int
) -> None:
    """A running training failed: retry at ``retry_at``, or give up after ``max_attempts``."""
    db.conn.execute(
        "UPDATE training_jobs SET state = CASE WHEN attempts >= ? THEN 'failed' "
        "ELSE 'queued' END, due_at = ?, last_error = ? WHERE concept_id = ? "
        "AND state = 'running'",
        (max_attempts, retry_at, error[:500], concept_id),
    )


def finish(db: sqlite_utils.Database, concept_id: int, started: float) -> None:
    """A training that started at ``started`` is switched in: drop its job, unless a change
    requested after it read its examples queued another one."""
    db.conn.execute(
        "DELETE FROM training_jobs WHERE concept_id = ? AND requested_at <= ?",
        (concept_id, started),
    )
