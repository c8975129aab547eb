"""Clustering the faces that match no person, so the user can name them.

Incremental and DBSCAN-like (as Immich does it): only faces without a cluster are visited;
a face with at least ``min_size`` unnamed faces within ``eps`` (itself included) is a core
face, and it and its unclustered neighbours join the cluster most of its clustered
neighbours belong to, or a new one. Faces that a person now names leave their cluster.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from photod.faces.base import distances


@dataclass
class Cluster:
    """One group of unnamed faces."""

    id: int
    size: int
    face_ids: list[int]
    paths: list[str]


def _unnamed(db: sqlite_utils.Database, model: str) -> tuple[list[int], np.ndarray]:
    rows = db.execute(
        "SELECT f.id, f.embedding FROM faces f JOIN photos p ON p.id = f.photo_id "
        "WHERE f.model = ? AND f.embedding IS NOT NULL AND p.status != 'missing' "
        "AND NOT EXISTS (SELECT 1 FROM detections d WHERE d.face_id = f.id) ORDER BY f.id",
        (model,),
    ).fetchall()
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    return [r[0] for r in rows], np.stack([np.frombuffer(r[1], np.float32) for r in rows])


def update_clusters(
    db: sqlite_utils.Database, model: str, metric: str, eps: float, min_size: int
) -> int:
    """One incremental pass (inside the writer's transaction); return faces newly clustered."""
    db.execute(
        "DELETE FROM face_clusters WHERE model != ? OR face_id IN "
        "(SELECT face_id FROM detections WHERE face_id IS NOT NULL)",
        (model,),
    )
    ids, emb = _unnamed(db, model)
    if not ids:
        return 0
    cluster_of = dict(db.execute("SELECT face_id, cluster_id FROM face_clusters").fetchall())
    next_id = max(cluster_of.values(), default=0) + 1
    added = 0
    for i, fid in enumerate(ids):
        if fid in cluster_of:
            continue
        near = np.nonzero(distances(metric, emb[i : i + 1], emb)[0] <= eps)[0]
        if len(near) < min_size:
            continue  # noise for now; a later pass may find its neighbours
        votes = Counter(cluster_of[ids[j]] for j in near if ids[j] in cluster_of)
        cid = votes.most_common(1)[0][0] if votes else next_id
        if not votes:
            next_id += 1
        for j in near:
            if ids[j] not in cluster_of:
                cluster_of[ids[j]] = cid
                db.execute(
                    "INSERT INTO face_clusters (face_id, cluster_id, model) VALUES (?, ?, ?)",
                    (ids[j], cid, model),
                )
                added += 1
    return added


def list_clusters(db: sqlite_utils.Database, min_size: int = 1) -> list[Cluster]:
    """Clusters, largest first, with their faces and photos."""
    rows = db.execute(
        "SELECT c.cluster_id, f.id, p.path FROM face_clusters c JOIN faces f ON f.id = c.face_id "
        "JOIN photos p ON p.id = f.photo_id ORDER BY c.cluster_id, f.id"
    ).fetchall()
    by: dict[int, Cluster] = {}
    for cid, fid, path in rows:
        c = by.setdefault(cid, Cluster(cid, 0, [], []))
        c.size += 1
        c.face_ids.append(fid)
        c.paths.append(path)
    return sorted((c for c in by.values() if c.size >= min_size), key=lambda c: -c.size)


def cluster_faces(db: sqlite_utils.Database, cluster_id: int) -> list[tuple[str, tuple]]:
    """(photo path, face box) of every face in a cluster: the examples naming it creates."""
    rows = db.execute(
        "SELECT p.path, f.x, f.y, f.w, f.h FROM face_clusters c JOIN faces f ON f.id = c.face_id "
        "JOIN photos p ON p.id = f.photo_id WHERE c.cluster_id = ? ORDER BY f.id",
        (cluster_id,),
    ).fetchall()
    return [(r[0], (r[1], r[2], r[3], r[4])) for r in rows]
