"""What search results show: each photo's facts, who and what is in it, its tags and captions,
and the snippet of its document that matched."""

from __future__ import annotations

import json

import sqlite_utils

from photod.index.search import PhotoSummary


def summaries(
    db: sqlite_utils.Database, ids: list[int], match: str | None = None
) -> dict[int, PhotoSummary]:
    """The summary of each photo in ``ids``; with ``match`` (an FTS5 expression), the
    snippet of the best-matching field, the matched words in brackets."""
    out: dict[int, PhotoSummary] = {}
    for pid in ids:
        row = db.conn.execute(
            "SELECT id, path, taken_at, place, camera, lens FROM photos WHERE id = ?", (pid,)
        ).fetchone()
        if row is None:
            continue
        photo = out[pid] = PhotoSummary(*row)
        photo.found = db.conn.execute(
            "SELECT DISTINCT c.kind, c.name FROM detections d JOIN concepts c "
            "ON c.id = d.concept_id WHERE d.photo_id = ? ORDER BY c.kind, c.name",
            (pid,),
        ).fetchall()
        photo.tags = db.conn.execute(
            "SELECT value, source FROM tags WHERE photo_id = ? ORDER BY id", (pid,)
        ).fetchall()
        photo.captions = [
            {"text": text, "model": model, "concept_versions": json.loads(versions or "{}")}
            for text, model, versions in db.conn.execute(
                "SELECT text, model, concept_versions FROM captions WHERE photo_id = ? ORDER BY id",
                (pid,),
            )
        ]
        if match is not None:
            hit = db.conn.execute(
                "SELECT snippet(photo_fts, -1, '[', ']', '…', 12) FROM photo_fts "
                "WHERE photo_fts MATCH ? AND rowid = ?",
                (match, pid),
            ).fetchone()
            photo.snippet = hit[0] if hit else None
    return out
