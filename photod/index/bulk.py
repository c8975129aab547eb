"""Loading many photos at once (benchmarks, imports from another catalogue).

Rows go in with ``executemany`` in one transaction per call, the search triggers off; the
search documents of the new photos are then built in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlite_utils

from photod.index.search_schema import begin_bulk, end_bulk
from photod.index.tags import CONCEPT_SOURCE


@dataclass
class BulkPhoto:
    """One photo and what photod would have found in it."""

    path: str
    taken_at: str | None = None
    camera: str | None = None
    lens: str | None = None
    place: str | None = None
    captions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    concept_ids: list[int] = field(default_factory=list)
    content_hash: str | None = None


def add_photos(
    db: sqlite_utils.Database, photos: Sequence[BulkPhoto], *, model: str = "bulk"
) -> int:
    """Insert ``photos`` (new paths) with their captions, tags and detections (of concepts
    that exist, version 1, recorded as made by ``model``); return the first new photo id."""
    first = (db.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM photos").fetchone())[0]
    begin_bulk(db)
    ids = range(first, first + len(photos))
    db.conn.executemany(
        "INSERT INTO photos (id, path, content_hash, taken_at, camera, lens, place, status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'indexed')",
        [
            (i, p.path, p.content_hash, p.taken_at, p.camera, p.lens, p.place)
            for i, p in zip(ids, photos, strict=True)
        ],
    )
    db.conn.executemany(
        "INSERT INTO captions (photo_id, text, model, created_at) VALUES (?, ?, ?, 0)",
        [(i, text, model) for i, p in zip(ids, photos, strict=True) for text in p.captions],
    )
    db.conn.executemany(
        "INSERT INTO detections (photo_id, concept_id, score, head_model, concept_version) "
        "VALUES (?, ?, 1.0, ?, 1)",
        [(i, c, model) for i, p in zip(ids, photos, strict=True) for c in p.concept_ids],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO tags (photo_id, value, source, model) VALUES (?, ?, ?, ?)",
        [(i, t, model, model) for i, p in zip(ids, photos, strict=True) for t in p.tags],
    )
    db.conn.execute(
        "INSERT OR IGNORE INTO tags (photo_id, value, source, model, score) "
        "SELECT d.photo_id, c.name, ?, d.head_model || '@v1', 1.0 FROM detections d "
        "JOIN concepts c ON c.id = d.concept_id WHERE d.photo_id >= ?",
        (CONCEPT_SOURCE, first),
    )
    end_bulk(db, first)
    return first
