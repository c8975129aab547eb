"""Stored features: CLIP image embeddings (cached by content hash and model) and the face
embeddings a photo's commit stored. Vectors are float32 blobs."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import numpy as np
import sqlite_utils

# SQLite's default limit on host parameters is far above this; chunks keep statements short.
_CHUNK = 500


def _vec(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32).copy()


def store_clip(db: sqlite_utils.Database, rows: Sequence[tuple[str, str, bytes]]) -> None:
    """Cache (content_hash, model, float32 bytes) rows, replacing older ones."""
    db.conn.executemany(
        "INSERT OR REPLACE INTO clip_embeddings (content_hash, model, embedding) VALUES (?, ?, ?)",
        rows,
    )


def cached_clip(
    db: sqlite_utils.Database, model: str, hashes: Sequence[str]
) -> dict[str, np.ndarray]:
    """The cached CLIP embeddings of these content hashes for ``model``."""
    out: dict[str, np.ndarray] = {}
    for i in range(0, len(hashes), _CHUNK):
        chunk = list(hashes[i : i + _CHUNK])
        marks = ",".join("?" * len(chunk))
        for h, blob in db.conn.execute(
            f"SELECT content_hash, embedding FROM clip_embeddings "
            f"WHERE model = ? AND content_hash IN ({marks})",
            [model, *chunk],
        ).fetchall():
            out[h] = _vec(blob)
    return out


def library_clip(db: sqlite_utils.Database, model: str) -> list[tuple[str, np.ndarray]]:
    """(content hash, embedding) of every indexed content with a cached embedding."""
    rows = db.conn.execute(
        "SELECT DISTINCT c.content_hash, c.embedding FROM clip_embeddings c "
        "JOIN photos p ON p.content_hash = c.content_hash "
        "WHERE c.model = ? AND p.status = 'indexed'",
        (model,),
    ).fetchall()
    return [(r[0], _vec(r[1])) for r in rows]


def photos_without_clip(db: sqlite_utils.Database, model: str) -> list[tuple[int, str, str]]:
    """(id, path, content hash) of indexed photos with no cached embedding for ``model``."""
    return db.conn.execute(
        "SELECT p.id, p.path, p.content_hash FROM photos p WHERE p.status = 'indexed' AND "
        "NOT EXISTS (SELECT 1 FROM clip_embeddings c WHERE c.content_hash = p.content_hash "
        "AND c.model = ?)",
        (model,),
    ).fetchall()


def indexed_photos(db: sqlite_utils.Database) -> list[tuple[int, str, str]]:
    """(id, path, content hash) of every indexed photo."""
    return db.conn.execute(
        "SELECT id, path, content_hash FROM photos WHERE status = 'indexed' ORDER BY id"
    ).fetchall()


def iter_photo_clip(
    db: sqlite_utils.Database, model: str, batch: int = 4096
) -> Iterator[tuple[list[int], np.ndarray]]:
    """(photo ids, embedding matrix) batches of every present photo's cached embedding."""
    cur = db.conn.execute(
        "SELECT p.id, c.embedding FROM photos p JOIN clip_embeddings c "
        "ON c.content_hash = p.content_hash AND c.model = ? WHERE p.status != 'missing'",
        (model,),
    )
    while rows := cur.fetchmany(batch):
        yield [r[0] for r in rows], np.stack([np.frombuffer(r[1], np.float32) for r in rows])


def iter_face_embeddings(
    db: sqlite_utils.Database, model: str | None, batch: int = 2048
) -> Iterator[tuple[list[int], np.ndarray]]:
    """(photo ids, embedding matrix) batches of every stored face embedding of ``model``."""
    cur = db.conn.execute(
        "SELECT photo_id, embedding FROM faces WHERE model = ? AND embedding IS NOT NULL",
        (model,),
    )
    while rows := cur.fetchmany(batch):
        yield [r[0] for r in rows], np.stack([np.frombuffer(r[1], np.float32) for r in rows])


def stored_faces(
    db: sqlite_utils.Database, path: str, content_hash: str, model: str
) -> list[tuple[tuple, float, np.ndarray | None, list | None]]:
    """(box, score, embedding, landmarks) of the faces ``model`` found in this exact content
    at ``path``, in detection order (empty if none are stored)."""
    rows = db.conn.execute(
        "SELECT f.x, f.y, f.w, f.h, f.score, f.embedding, f.landmarks FROM faces f "
        "JOIN photos p ON p.id = f.photo_id "
        "WHERE p.path = ? AND p.content_hash = ? AND f.model = ? ORDER BY f.id",
        (path, content_hash, model),
    ).fetchall()
    return [
        (
            (r[0], r[1], r[2], r[3]),
            r[4],
            _vec(r[5]) if r[5] is not None else None,
            [tuple(p) for p in json.loads(r[6])] if r[6] else None,
        )
        for r in rows
    ]


def forget_clip(db: sqlite_utils.Database) -> None:
    """Empty the CLIP cache (a compute worker's scratch index, after each batch: the driver
    keeps the embeddings, the worker must not grow a second copy of them)."""
    db.conn.execute("DELETE FROM clip_embeddings")
