"""Duplicate photos: exact copies (one content hash) and near-duplicates (CLIP embeddings
at least ``min_similarity`` apart in cosine), grouped by connected components."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from photod.index.vectors import PhotoVectors


@dataclass
class DuplicateGroup:
    """Photos that are copies of each other: ``exact`` when they all share one content."""

    exact: bool
    #: (photo id, path, cosine similarity to the first photo; 1.0 for exact copies), by path.
    photos: list[tuple[int, str, float]] = field(default_factory=list)


def find_duplicates(
    copies: list[list[tuple[int, str]]],
    vectors: PhotoVectors | None,
    paths: dict[int, str],
    min_similarity: float,
) -> list[DuplicateGroup]:
    """Group exact ``copies`` and the close pairs of ``vectors``; ``paths`` by photo id of
    every photo of ``vectors``. Groups come largest first, then by first path."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]  # path halving keeps the trees shallow
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    exact_of: dict[int, int] = {}  # photo id -> its exact group's number
    for n, group in enumerate(copies):
        for pid, path in group:
            paths.setdefault(pid, path)
            exact_of[pid] = n
            union(pid, group[0][0])
    sims: dict[tuple[int, int], float] = {}
    if vectors is not None and len(vectors):
        for a, b, s in vectors.close_pairs(min_similarity):
            if exact_of.get(a, -1) != exact_of.get(b, -2):
                union(a, b)
                sims[(a, b)] = s
    members: dict[int, list[int]] = {}
    for pid in parent:
        members.setdefault(find(pid), []).append(pid)
    groups = []
    for ids in members.values():
        if len(ids) < 2:
            continue
        ids.sort(key=lambda i: paths[i])
        exact = len({exact_of.get(i, -1 - i) for i in ids}) == 1
        first = ids[0]
        row = {i: _similarity(vectors, sims, first, i) for i in ids}
        groups.append(DuplicateGroup(exact, [(i, paths[i], row[i]) for i in ids]))
    groups.sort(key=lambda g: (-len(g.photos), g.photos[0][1]))
    return groups


def _similarity(
    vectors: PhotoVectors | None, sims: dict[tuple[int, int], float], a: int, b: int
) -> float:
    if a == b:
        return 1.0
    if (min(a, b), max(a, b)) in sims:
        return round(sims[(min(a, b), max(a, b))], 4)
    ra, rb = (_row(vectors, a), _row(vectors, b)) if vectors is not None else (None, None)
    if ra is None or rb is None:
        return 1.0  # exact copies, never embedded
    return round(float(vectors.matrix[ra] @ vectors.matrix[rb]), 4)


def _row(vectors: PhotoVectors, photo_id: int) -> int | None:
    i = int(np.searchsorted(vectors.ids, photo_id))  # the rows are sorted by photo id
    return i if i < len(vectors.ids) and vectors.ids[i] == photo_id else None
