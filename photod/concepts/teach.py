"""Teaching actions shared by the CLI and the web app: same validation, same messages.

Each function runs its index changes in one writer transaction and schedules the concept's
retraining in that same transaction; a :class:`ConceptError` says why an action was refused.
"""

from __future__ import annotations

import time

import sqlite_utils

from photod.concepts.scheduler import request_training
from photod.config import ConceptsConfig
from photod.faces.clusters import update_clusters
from photod.heads.features import SharedFeatures
from photod.index import Index, browse, training
from photod.index import clusters as stored_clusters
from photod.index import concepts as store
from photod.index.concepts import Concept, ConceptError


def _person(db: sqlite_utils.Database, name: str, class_word: str) -> Concept:
    """The person ``name``, created with ``class_word`` if new; refused if not a person."""
    name = name.strip()
    if not name:
        raise ConceptError("a name is needed")
    c = store.find_concept(db, name) or store.add_concept(
        db, name, kind="person", class_word=class_word
    )
    if c.kind != "person":
        raise ConceptError(f"{c.name} is a {c.kind}, not a person")
    return c


def refresh_clusters(index: Index, features: SharedFeatures, cfg: ConceptsConfig) -> int:
    """One incremental clustering pass over the unnamed faces; return faces newly grouped."""
    backend = features.face_backend
    eps = cfg.cluster_eps or features.face_threshold
    size = cfg.min_cluster_size
    return index.write(lambda db: update_clusters(db, backend.model_id, backend.metric, eps, size))


def name_cluster(
    index: Index, cluster: int, name: str, cfg: ConceptsConfig, class_word: str = "person"
) -> tuple[Concept, int]:
    """Make the faces of ``cluster`` examples of person ``name`` (created if new).

    Returns the person and how many faces became examples; retraining is scheduled."""

    def name_it(db: sqlite_utils.Database) -> tuple[Concept, int]:
        faces = stored_clusters.cluster_faces(db, cluster)
        if not faces:
            raise ConceptError(f"no cluster {cluster}; see `photod faces clusters`")
        c = _person(db, name, class_word)
        for path, box in faces:
            store.add_example(db, c.id, path, face_box=box, source="cluster")
        stored_clusters.remove(db, cluster)
        request_training(db, c.id, cfg)
        return c, len(faces)

    return index.write(name_it)


def face_is(
    index: Index, face_id: int, name: str, cfg: ConceptsConfig, class_word: str = "person"
) -> tuple[Concept, float]:
    """ "This face is Bob": the face's photo becomes an example of person ``name`` (created
    if new) with that face's box. Returns the person and the retraining's due time."""

    def add(db: sqlite_utils.Database) -> tuple[Concept, float]:
        face = browse.face_file(db, face_id)
        if face is None:
            raise ConceptError(f"no face {face_id} (the photo was re-processed or removed)")
        c = _person(db, name, class_word)
        store.add_example(db, c.id, face[1], face_box=face[3], source="web")
        return c, request_training(db, c.id, cfg)

    return index.write(add)


def add_examples(
    index: Index,
    concept: Concept,
    paths: list[str],
    cfg: ConceptsConfig,
    *,
    box: tuple[float, float, float, float] | None = None,
    caption: str | None = None,
    source: str = "cli",
) -> float:
    """Add example photos to ``concept``; return the retraining's due time."""

    def add(db: sqlite_utils.Database) -> float:
        for p in paths:
            store.add_example(db, concept.id, p, face_box=box, caption=caption, source=source)
        return request_training(db, concept.id, cfg)

    return index.write(add)


def remove_examples(index: Index, concept: Concept, paths: list[str], cfg: ConceptsConfig) -> int:
    """Remove example photos from ``concept``; schedule a retraining if any was removed."""

    def remove(db: sqlite_utils.Database) -> int:
        n = sum(store.remove_example(db, concept.id, p) for p in paths)
        if n:
            request_training(db, concept.id, cfg)
        return n

    return index.write(remove)


def not_this(index: Index, photo_id: int, name: str, cfg: ConceptsConfig) -> tuple[int, bool]:
    """ "This is not Alice": drop Alice's detections on the photo now and, if the photo is one
    of her examples, remove it and schedule her retraining. Returns (detections dropped,
    example removed)."""

    def undo(db: sqlite_utils.Database) -> tuple[int, bool]:
        c = store.require_concept(db, name)
        path = browse.photo_file(db, photo_id)
        if path is None:
            raise ConceptError(f"no photo {photo_id}")
        dropped = browse.not_this_concept(db, photo_id, c.name)
        removed = store.remove_example(db, c.id, path[0])
        if removed:
            request_training(db, c.id, cfg)
        return dropped, removed

    return index.write(undo)


def not_a_face(index: Index, face_id: int) -> None:
    """A false face detection: recorded as a negative, removed from its photo and cluster."""
    if not index.write(lambda db: browse.mark_not_face(db, face_id)):
        raise ConceptError(f"no face {face_id} (the photo was re-processed or removed)")


def train_soon(index: Index, concept: Concept) -> float:
    """ "Retrain now": queue the concept's training, due at once (the daemon trains it)."""
    now = time.time()
    index.write(lambda db: training.request(db, concept.id, now, now))
    return now
