"""The ``face_clusters`` table: groups of unnamed faces (the grouping is
:mod:`photod.faces.clusters`'s; these functions store and read it)."""

from __future__ import annotations

import numpy as np
import sqlite_utils


def drop_stale(db: sqlite_utils.Database, model: str) -> None:
    """Forget clusters of another face model and faces a person now names."""
    db.conn.execute(
        "DELETE FROM face_clusters WHERE model != ? OR face_id IN "
        "(SELECT face_id FROM detections WHERE face_id IS NOT NULL)",
        (model,),
    )


def unnamed_faces(db: sqlite_utils.Database, model: str) -> tuple[list[int], np.ndarray]:
    """Ids and embeddings of the present faces of ``model`` that no person names."""
    rows = db.conn.execute(
        "SELECT f.id, f.embedding FROM faces f JOIN photos p ON p.id = f.photo_id "
        "WHERE f.model = ? AND f.embedding IS NOT NULL AND p.status != 'missing' "
        "AND NOT EXISTS (SELECT 1 FROM detections d WHERE d.face_id = f.id) ORDER BY f.id",
        (model,),
    ).fetchall()
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    return [r[0] for r in rows], np.stack([np.frombuffer(r[1], np.float32) for r in rows])


def assignments(db: sqlite_utils.Database) -> dict[int, int]:
    """face id -> cluster id."""
    return dict(db.conn.execute("SELECT face_id, cluster_id FROM face_clusters").fetchall())


def assign(db: sqlite_utils.Database, face_id: int, cluster_id: int, model: str) -> None:
    """Put a face into a cluster."""
    db.conn.execute(
        "INSERT INTO face_clusters (face_id, cluster_id, model) VALUES (?, ?, ?)",
        (face_id, cluster_id, model),
    )


def members(db: sqlite_utils.Database) -> list[tuple[int, int, str]]:
    """(cluster id, face id, photo path) of every clustered face, by cluster then face."""
    return db.conn.execute(
        "SELECT c.cluster_id, f.id, p.path FROM face_clusters c JOIN faces f ON f.id = c.face_id "
        "JOIN photos p ON p.id = f.photo_id ORDER BY c.cluster_id, f.id"
    ).fetchall()


def cluster_faces(db: sqlite_utils.Database, cluster_id: int) -> list[tuple[str, tuple]]:
    """(photo path, face box) of every face in a cluster."""
    rows = db.conn.execute(
        "SELECT p.path, f.x, f.y, f.w, f.h FROM face_clusters c JOIN faces f ON f.id = c.face_id "
        "JOIN photos p ON p.id = f.photo_id WHERE c.cluster_id = ? ORDER BY f.id",
        (cluster_id,),
    ).fetchall()
    return [(r[0], (r[1], r[2], r[3], r[4])) for r in rows]


def remove(db: sqlite_utils.Database, cluster_id: int) -> None:
    """Forget a cluster (its faces became a person's examples)."""
    db.conn.execute("DELETE FROM face_clusters WHERE cluster_id = ?", (cluster_id,))
