"""CLIP image embeddings, searchable: one float32 matrix per model, scanned exhaustively.

The embeddings live in ``clip_embeddings``, one per content hash and model; photos share the
embedding of their content (exact copies have one). :class:`ContentVectors` holds every
embedding of one model as one L2-normalised ``[n, dim]`` matrix, so cosine similarity to a
query is one matrix-vector product: exact, with no index to build or keep in step. It is
read once, then only the rows stored since (:func:`last_rowid`, a b-tree lookup, tells
whether there are any); photos are joined to the nearest contents afterwards.
docs/benchmarks.md has the measurements behind this choice over ``sqlite-vec`` and
``usearch``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import sqlite_utils

_CHUNK = 500


def last_rowid(db: sqlite_utils.Database) -> int:
    """The largest rowid of ``clip_embeddings`` (0: empty). It grows whenever an embedding is
    added or replaced (a replaced row gets a new rowid), and reading it from the end of the
    table's b-tree costs nothing at a million rows."""
    return db.conn.execute("SELECT coalesce(max(rowid), 0) FROM clip_embeddings").fetchone()[0]


def embeddings_after(
    db: sqlite_utils.Database, model: str, rowid: int, batch: int = 65_536
) -> tuple[list[str], np.ndarray]:
    """(content hashes, ``float32[n, dim]`` embeddings) of ``model`` stored after ``rowid``
    (0: all of them), oldest first, so a later row of a hash replaces an earlier one."""
    cur = db.conn.execute(
        "SELECT content_hash, embedding FROM clip_embeddings WHERE rowid > ? AND model = ? "
        "ORDER BY rowid",
        (rowid, model),
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


class ContentVectors:
    """Every embedding of one model, as one matrix (row ``i`` is ``hashes[i]``), grown in
    place as embeddings arrive (spare rows double, as a list's do)."""

    def __init__(self, model: str, version: int = 0) -> None:
        self.model = model
        #: ``last_rowid`` of the table when these rows were read.
        self.version = version
        self.hashes: list[str] = []
        self._rows: dict[str, int] = {}
        self._buffer = np.zeros((0, 0), np.float32)

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def matrix(self) -> np.ndarray:
        """``float32[len(self), dim]``: a view, valid while this object lives."""
        return self._buffer[: len(self.hashes)]

    def add(self, hashes: Sequence[str], matrix: np.ndarray, version: int) -> None:
        """Add these embeddings; a hash already held has its row replaced."""
        if not len(hashes):
            self.version = version
            return
        if not self.hashes and len(set(hashes)) == len(hashes):
            # The first read (a million rows at start-up): at once, not row by row.
            self._rows = {h: i for i, h in enumerate(hashes)}
            self.hashes = list(hashes)
            self._buffer = np.array(matrix, np.float32)  # a writable copy
            self.version = version
            return
        if not self._buffer.shape[1]:
            self._buffer = np.zeros((0, matrix.shape[1]), np.float32)
        for h, row in zip(hashes, matrix, strict=True):
            i = self._rows.get(h)
            if i is None:
                i = self._rows[h] = len(self.hashes)
                self.hashes.append(h)
                if i == len(self._buffer):
                    grown = np.zeros((max(1024, 2 * i), matrix.shape[1]), np.float32)
                    grown[:i] = self._buffer[:i]
                    self._buffer = grown
            self._buffer[i] = row
        self.version = version

    def nearest(
        self, query: np.ndarray, limit: int, min_score: float = -1.0
    ) -> list[tuple[str, float]]:
        """(content hash, cosine similarity) of the ``limit`` nearest contents scoring at
        least ``min_score``, best first (ties by hash, so results are stable)."""
        if not len(self) or limit <= 0:
            return []
        n = len(self.hashes)  # the rows as of now: more may arrive while this one scans
        matrix, hashes = self._buffer[:n], self.hashes[:n]
        scores = matrix @ np.asarray(query, np.float32).reshape(-1)
        k = min(limit, len(scores))
        # argpartition sorts only k rows: a full sort of a million scores costs ~80 ms.
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(k)
        ranked = sorted((-float(scores[i]), hashes[i]) for i in top)
        return [(h, -s) for s, h in ranked if -s >= min_score]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two contents of this matrix."""
        return float(self._buffer[self._rows[a]] @ self._buffer[self._rows[b]])

    def close_pairs(self, min_score: float, block: int = 4096) -> Iterator[tuple[str, str, float]]:
        """(hash a, hash b, similarity) of every pair of distinct contents scoring at least
        ``min_score``, each once, by blocks of rows (memory stays ``block x n``)."""
        for start in range(0, len(self), block):
            sims = self.matrix[start : start + block] @ self.matrix[start:].T
            rows, cols = np.nonzero(sims >= min_score)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                if c > r:  # the upper triangle: each pair once, never a content with itself
                    yield self.hashes[start + r], self.hashes[start + c], float(sims[r, c])
