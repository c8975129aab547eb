"""Duplicate photos: exact copies (one content hash) and near-duplicates (contents whose CLIP
embeddings are at least ``min_similarity`` alike in cosine), grouped as connected components:
a resized copy of a re-encoded copy of a photo is in the photo's group."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from photod.index.vectors import ContentVectors


@dataclass
class DuplicateGroup:
    """Photos that are copies of each other: ``exact`` when they all share one content."""

    exact: bool
    #: (photo id, path, cosine similarity to the first photo; 1.0 for the same content).
    photos: list[tuple[int, str, float]] = field(default_factory=list)


def find_duplicates(
    copies: Sequence[str],
    vectors: ContentVectors | None,
    photos_of: Callable[[Sequence[str]], list[tuple[int, str, str]]],
    min_similarity: float,
) -> list[DuplicateGroup]:
    """Group the contents in ``copies`` (each held by several photos) and the close pairs of
    ``vectors``; ``photos_of(hashes)`` gives the (id, path, hash) of the photos of contents.
    Groups come largest first, then by first path."""
    parent: dict[str, str] = {h: h for h in copies}

    def find(h: str) -> str:
        parent.setdefault(h, h)
        while parent[h] != h:
            parent[h] = parent[parent[h]]  # path halving keeps the trees shallow
            h = parent[h]
        return h

    if vectors is not None and len(vectors):
        for a, b, _ in vectors.close_pairs(min_similarity):
            parent[find(a)] = find(b)
    members: dict[str, list[str]] = {}
    for h in list(parent):
        members.setdefault(find(h), []).append(h)
    photos = photos_of(list(parent))  # by path
    groups = []
    for hashes in members.values():
        mine = set(hashes)
        rows = [r for r in photos if r[2] in mine]
        if len(rows) < 2:
            continue  # a near pair whose other photo is gone
        first = rows[0][2]
        groups.append(
            DuplicateGroup(
                exact=len({h for _, _, h in rows}) == 1,
                photos=[(pid, path, _similarity(vectors, first, h)) for pid, path, h in rows],
            )
        )
    groups.sort(key=lambda g: (-len(g.photos), g.photos[0][1]))
    return groups


def _similarity(vectors: ContentVectors | None, a: str, b: str) -> float:
    if a == b or vectors is None:
        return 1.0
    return round(vectors.similarity(a, b), 4)
