"""CLIP image embeddings, searchable: one float32 matrix per model, scanned exhaustively.

The embeddings live in ``clip_embeddings``, one per content hash and model; photos share the
embedding of their content (exact copies have one). :class:`ContentVectors` holds every
embedding of one model as one L2-normalised ``[n, dim]`` matrix, so cosine similarity to a
query is one matrix-vector product: exact, with no index to build or keep in step. It is
re-read only when the table changed (:func:`signature`, a b-tree lookup); photos are joined
to the nearest contents afterwards. docs/benchmarks.md has the measurements behind this
choice over ``sqlite-vec`` and ``usearch``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sqlite_utils

_CHUNK = 500


def signature(db: sqlite_utils.Database) -> tuple:
    """Changes whenever an embedding is added or replaced (a replaced row gets a new rowid):
    the largest rowid, read from the end of the table's b-tree, costs nothing at 1M rows."""
    return tuple(db.conn.execute("SELECT max(rowid) FROM clip_embeddings").fetchone())


def content_matrix(
    db: sqlite_utils.Database, model: str, batch: int = 65_536
) -> tuple[list[str], np.ndarray]:
    """(content hashes, ``float32[n, dim]`` embeddings) of every embedding of ``model``."""
    cur = db.conn.execute(
        "SELECT content_hash, embedding FROM clip_embeddings WHERE model = ?", (model,)
    )
    hashes: list[str] = []
    blobs: list[bytes] = []
    while rows := cur.fetchmany(batch):
        hashes.extend(r[0] for r in rows)
        blobs.extend(r[1] for r in rows)
    if not hashes:
        return [], np.zeros((0, 0), np.float32)
    # One join and one frombuffer: far faster than an array per row at a million rows.
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(hashes), -1)
    return hashes, matrix


def bulk_photos(db: sqlite_utils.Database, rows: Sequence[tuple[str, str, float]]) -> None:
    """Add indexed photos (path, content hash, indexed_at) in one statement (bulk imports and
    the benchmarks; the pipeline commits a photo with its results instead)."""
    db.conn.executemany(
        "INSERT INTO photos (path, content_hash, status, indexed_at, updated_at) "
        "VALUES (?, ?, 'indexed', ?, ?)",
        [(p, h, t, t) for p, h, t in rows],
    )


def photos_of(db: sqlite_utils.Database, hashes: Sequence[str]) -> list[tuple[int, str, str]]:
    """(id, path, content hash) of the present photos with these contents, by path."""
    out: list[tuple[int, str, str]] = []
    for i in range(0, len(hashes), _CHUNK):
        chunk = list(hashes[i : i + _CHUNK])
        marks = ",".join("?" * len(chunk))
        out += db.conn.execute(
            f"SELECT id, path, content_hash FROM photos WHERE status != 'missing' "
            f"AND content_hash IN ({marks})",
            chunk,
        ).fetchall()
    return sorted(out, key=lambda r: r[1])


def exact_copies(db: sqlite_utils.Database) -> list[str]:
    """Content hashes that more than one present photo has."""
    return [
        r[0]
        for r in db.conn.execute(
            "SELECT content_hash FROM photos WHERE status != 'missing' AND content_hash IS NOT "
            "NULL GROUP BY content_hash HAVING count(*) > 1 ORDER BY content_hash"
        )
    ]


@dataclass(frozen=True)
class ContentVectors:
    """Every embedding of one model, as one matrix (row ``i`` is ``hashes[i]``)."""

    model: str
    hashes: list[str]
    matrix: np.ndarray
    version: tuple = ()

    def __len__(self) -> int:
        return len(self.hashes)

    def nearest(
        self, query: np.ndarray, limit: int, min_score: float = -1.0
    ) -> list[tuple[str, float]]:
        """(content hash, cosine similarity) of the ``limit`` nearest contents scoring at
        least ``min_score``, best first (ties by hash, so results are stable)."""
        if not len(self) or limit <= 0:
            return []
        scores = self.matrix @ np.asarray(query, np.float32).reshape(-1)
        k = min(limit, len(scores))
        # argpartition sorts only k rows: a full sort of a million scores costs ~80 ms.
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(k)
        ranked = sorted((-float(scores[i]), self.hashes[i]) for i in top)
        return [(h, -s) for s, h in ranked if -s >= min_score]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two contents of this matrix."""
        return float(self.matrix[self._rows[a]] @ self.matrix[self._rows[b]])

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {h: i for i, h in enumerate(self.hashes)}

    def close_pairs(self, min_score: float, block: int = 4096) -> Iterator[tuple[str, str, float]]:
        """(hash a, hash b, similarity) of every pair of distinct contents scoring at least
        ``min_score``, each once, by blocks of rows (memory stays ``block x n``)."""
        for start in range(0, len(self), block):
            sims = self.matrix[start : start + block] @ self.matrix[start:].T
            rows, cols = np.nonzero(sims >= min_score)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                if c > r:  # the upper triangle: each pair once, never a content with itself
                    yield self.hashes[start + r], self.hashes[start + c], float(sims[r, c])
