"""CLIP image embeddings per photo, searchable: a float32 matrix scanned exhaustively.

The embeddings live in ``clip_embeddings`` (by content hash and model); a photo's vector is
its content's. :class:`PhotoVectors` holds every present photo's vector of one model as one
L2-normalised ``[n, dim]`` matrix, so that cosine similarity to a query is one matrix-vector
product (exact, no index to build or keep in step). It reloads when the table or the photos
change (:func:`signature`). docs/benchmarks.md has the measurements behind this choice over
``sqlite-vec`` and ``usearch``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import sqlite_utils


def signature(db: sqlite_utils.Database, model: str) -> tuple:
    """Changes whenever an embedding of ``model`` or a photo is added, replaced or removed.

    (Cheap: the rowid maxima come from the b-trees' ends; the counts scan the smallest index.)
    """
    emb = db.conn.execute(
        "SELECT count(*), max(rowid) FROM clip_embeddings WHERE model = ?", (model,)
    ).fetchone()
    photos = db.conn.execute(
        "SELECT count(*), max(id), max(updated_at) FROM photos WHERE status != 'missing'"
    ).fetchone()
    return (*emb, *photos)


def photo_matrix(
    db: sqlite_utils.Database, model: str, batch: int = 65_536
) -> tuple[np.ndarray, np.ndarray]:
    """(photo ids ``int64[n]``, embeddings ``float32[n, dim]``) of every present photo."""
    cur = db.conn.execute(
        "SELECT p.id, c.embedding FROM photos p JOIN clip_embeddings c "
        "ON c.content_hash = p.content_hash AND c.model = ? WHERE p.status != 'missing' "
        "ORDER BY p.id",
        (model,),
    )
    ids: list[int] = []
    blobs: list[bytes] = []
    while rows := cur.fetchmany(batch):
        ids.extend(r[0] for r in rows)
        blobs.extend(r[1] for r in rows)
    if not ids:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    # One join and one frombuffer: far faster than a numpy array per row at a million rows.
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)
    return np.asarray(ids, np.int64), matrix


def exact_copies(db: sqlite_utils.Database) -> list[list[tuple[int, str]]]:
    """Groups of present photos with the same content hash: [(id, path), ...] by path."""
    rows = db.conn.execute(
        "SELECT content_hash, id, path FROM photos WHERE status != 'missing' AND content_hash IN "
        "(SELECT content_hash FROM photos WHERE status != 'missing' AND content_hash IS NOT NULL "
        "GROUP BY content_hash HAVING count(*) > 1) ORDER BY content_hash, path"
    ).fetchall()
    groups: dict[str, list[tuple[int, str]]] = {}
    for h, pid, path in rows:
        groups.setdefault(h, []).append((pid, path))
    return list(groups.values())


def paths_of(db: sqlite_utils.Database, ids: list[int]) -> dict[int, str]:
    """The paths of these photo ids."""
    out: dict[int, str] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        out.update(db.conn.execute(f"SELECT id, path FROM photos WHERE id IN ({marks})", chunk))
    return out


@dataclass(frozen=True)
class PhotoVectors:
    """Every present photo's embedding of one model, as one matrix (rows sorted by id)."""

    model: str
    ids: np.ndarray
    matrix: np.ndarray
    version: tuple = ()

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(
        self, query: np.ndarray, limit: int, min_score: float = -1.0
    ) -> list[tuple[int, float]]:
        """(photo id, cosine similarity) of the ``limit`` nearest photos scoring at least
        ``min_score``, best first (ties by photo id, so results are stable)."""
        if not len(self) or limit <= 0:
            return []
        scores = self.matrix @ np.asarray(query, np.float32).reshape(-1)
        k = min(limit, len(scores))
        # argpartition keeps the sort to k rows: a full sort of a million scores costs ~80 ms.
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((self.ids[top], -scores[top]))]
        return [(int(self.ids[i]), float(scores[i])) for i in top if scores[i] >= min_score]

    def close_pairs(self, min_score: float, block: int = 4096) -> Iterator[tuple[int, int, float]]:
        """(id a, id b, similarity) of every pair with ``a < b`` scoring at least
        ``min_score``, by blocks of rows (memory stays ``block x n``)."""
        n = len(self)
        for start in range(0, n, block):
            sims = self.matrix[start : start + block] @ self.matrix[start:].T
            rows, cols = np.nonzero(sims >= min_score)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                if c > r:  # the upper triangle: each pair once, never a photo with itself
                    yield int(self.ids[start + r]), int(self.ids[start + c]), float(sims[r, c])
