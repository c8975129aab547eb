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
from photod.index import Index
from photod.index import clusters as stored


@dataclass
class Cluster:
    """One group of unnamed faces."""

    id: int
    size: int
    face_ids: list[int]
    paths: list[str]


def update_clusters(
    db: sqlite_utils.Database, model: str, metric: str, eps: float, min_size: int
) -> int:
    """One incremental pass (inside the writer's transaction); return faces newly clustered."""
    stored.drop_stale(db, model)
    ids, emb = stored.unnamed_faces(db, model)
    if not ids:
        return 0
    cluster_of = stored.assignments(db)
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
                stored.assign(db, ids[j], cid, model)
                added += 1
    return added


def list_clusters(index: Index, min_size: int = 1) -> list[Cluster]:
    """Clusters, largest first, with their faces and photos."""
    by: dict[int, Cluster] = {}
    for cid, fid, path in index.clusters.members():
        c = by.setdefault(cid, Cluster(cid, 0, [], []))
        c.size += 1
        c.face_ids.append(fid)
        c.paths.append(path)
    return sorted((c for c in by.values() if c.size >= min_size), key=lambda c: -c.size)
