"""What search results show: each photo's facts, who and what is in it, its tags and captions,
and the snippet of its document that matched."""

from __future__ import annotations

import json
import re

import sqlite_utils

from photod.index.search import PhotoSummary

#: The columns whose matched words results report (names, tags, place, camera, lens).
_REPORTED = {"names": 0, "tags": 1, "place": 3, "camera": 6, "lens": 7}
_MARKED = re.compile(r"\x02([^\x03]*)\x03")


def summaries(
    db: sqlite_utils.Database, ids: list[int], match: str | None = None
) -> dict[int, PhotoSummary]:
    """The summary of each photo in ``ids``; with ``match`` (an FTS5 expression), the
    snippet of the best-matching field (the matched words in brackets) and the words FTS5
    matched in the names, tags, place, camera and lens.

    A handful of queries for all the photos together, not a handful per photo.
    """
    wanted = json.dumps(ids)
    out = {
        row[0]: PhotoSummary(*row)
        for row in db.conn.execute(
            "SELECT id, path, taken_at, place, camera, lens FROM photos "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (wanted,),
        )
    }
    for pid, kind, name in db.conn.execute(
        "SELECT DISTINCT d.photo_id, c.kind, c.name FROM detections d JOIN concepts c "
        "ON c.id = d.concept_id WHERE d.photo_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY c.kind, c.name",
        (wanted,),
    ):
        out[pid].found.append((kind, name))
    for pid, value, source in db.conn.execute(
        "SELECT photo_id, value, source FROM tags WHERE photo_id IN "
        "(SELECT value FROM json_each(?)) ORDER BY id",
        (wanted,),
    ):
        out[pid].tags.append((value, source))
    for pid, text, model, versions in db.conn.execute(
        "SELECT photo_id, text, model, concept_versions FROM captions WHERE photo_id IN "
        "(SELECT value FROM json_each(?)) ORDER BY id",
        (wanted,),
    ):
        out[pid].captions.append(
            {"text": text, "model": model, "concept_versions": json.loads(versions or "{}")}
        )
    if match is not None and out:
        _matched(db, out, match)
    return out


def _matched(db: sqlite_utils.Database, photos: dict[int, PhotoSummary], match: str) -> None:
    marks = ", ".join(f"highlight(photo_fts, {i}, char(2), char(3))" for i in _REPORTED.values())
    # The rowid range bounds FTS5's walk over the matches and snippets are made for ours
    # only; "+rowid" keeps SQLite from running the FTS query once per id instead.
    rows = db.conn.execute(
        f"SELECT rowid, snippet(photo_fts, -1, '[', ']', '…', 12), {marks} FROM photo_fts "
        "WHERE photo_fts MATCH ? AND rowid BETWEEN ? AND ? "
        "AND +rowid IN (SELECT value FROM json_each(?))",
        (match, min(photos), max(photos), json.dumps(list(photos))),
    )
    for pid, snippet, *marked in rows:
        photo = photos[pid]
        photo.snippet = snippet
        for column, text in zip(_REPORTED, marked, strict=True):
            words = {
                w.casefold() for m in _MARKED.findall(text or "") for w in re.findall(r"\w+", m)
            }
            if words:
                photo.matched[column] = words
