"""Concept rows and their examples in the index.

Every function takes a ``db`` (the writer's inside its transaction, or a reader) so that a
caller can combine them atomically, e.g. adding an example and scheduling its retraining.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from photod.errors import PhotodError

KINDS = ("person", "pet", "object")
DEFAULT_HEAD = {"person": "person", "pet": "object", "object": "object"}


class ConceptError(PhotodError):
    """A concept operation cannot be done as asked; the message says why and what to do."""


@dataclass
class Concept:
    """One user concept and its active version (0: never trained)."""

    id: int
    name: str
    identifier: str
    kind: str
    class_word: str
    version: int = 0
    head: str | None = None
    head_model: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def head_name(self) -> str:
        """The head that serves this concept (explicit, else the kind's built-in)."""
        return self.head or DEFAULT_HEAD[self.kind]


@dataclass
class Example:
    """A labelled example photo; ``face_box`` is the face the user pointed at, if any;
    ``caption`` the user's own caption of it (the VLM embeddings' training target)."""

    id: int
    concept_id: int
    path: str
    face_box: tuple[float, float, float, float] | None
    source: str
    caption: str | None = None


_COLS = "id, name, identifier, kind, class_word, version, head, head_model, metrics"


def _concept(row: tuple) -> Concept:
    return Concept(*row[:8], metrics=json.loads(row[8]) if row[8] else {})


def add_concept(
    db: sqlite_utils.Database,
    name: str,
    *,
    kind: str,
    class_word: str,
    identifier: str | None = None,
    head: str | None = None,
) -> Concept:
    """Create a concept; its identifier defaults to its name."""
    if kind not in KINDS:
        raise ConceptError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if find_concept(db, name) is not None:
        raise ConceptError(
            f"a concept named {name!r} exists already; add photos to it with "
            f"`photod concept examples add {shlex.quote(name)} PHOTO...`"
        )
    now = time.time()
    cur = db.conn.execute(
        "INSERT INTO concepts (name, identifier, kind, class_word, version, head, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
        (name, identifier or name, kind, class_word, head, now, now),
    )
    return get_concept(db, cur.lastrowid)


def get_concept(db: sqlite_utils.Database, concept_id: int) -> Concept:
    """The concept with ``concept_id``."""
    row = db.conn.execute(f"SELECT {_COLS} FROM concepts WHERE id = ?", (concept_id,)).fetchone()
    if row is None:
        raise ConceptError(f"no concept with id {concept_id}")
    return _concept(row)


def find_concept(db: sqlite_utils.Database, name: str) -> Concept | None:
    """The concept named ``name`` (case-insensitive), or None."""
    row = db.conn.execute(
        f"SELECT {_COLS} FROM concepts WHERE name = ? COLLATE NOCASE", (name,)
    ).fetchone()
    return _concept(row) if row else None


def require_concept(db: sqlite_utils.Database, name: str) -> Concept:
    """The concept named ``name``, or a :class:`ConceptError` listing what exists."""
    concept = find_concept(db, name)
    if concept is None:
        names = [c.name for c in list_concepts(db)]
        known = ", ".join(names) if names else "none yet"
        raise ConceptError(
            f"no concept named {name!r} (known: {known}); create it with `photod concept add "
            f"{shlex.quote(name)} --kind person|pet|object --class WORD PHOTO...`"
        )
    return concept


def list_concepts(db: sqlite_utils.Database) -> list[Concept]:
    """Every concept, by name."""
    rows = db.conn.execute(f"SELECT {_COLS} FROM concepts ORDER BY name COLLATE NOCASE")
    return [_concept(r) for r in rows.fetchall()]


def remove_concept(db: sqlite_utils.Database, concept_id: int) -> list[str]:
    """Delete a concept (its detections, examples and training job cascade).

    Returns the paths of the photos it was detected in, so their results can be re-run.
    """
    paths = photos_with_detections(db, concept_id)
    db.conn.execute("DELETE FROM concepts WHERE id = ?", (concept_id,))
    return paths


def photos_with_detections(db: sqlite_utils.Database, concept_id: int) -> list[str]:
    """Paths of the photos in which the concept fired (any version)."""
    rows = db.conn.execute(
        "SELECT DISTINCT p.path FROM detections d JOIN photos p ON p.id = d.photo_id "
        "WHERE d.concept_id = ?",
        (concept_id,),
    )
    return [r[0] for r in rows.fetchall()]


def add_example(
    db: sqlite_utils.Database,
    concept_id: int,
    path: Path | str,
    *,
    face_box: tuple[float, float, float, float] | None = None,
    source: str = "cli",
    caption: str | None = None,
) -> bool:
    """Add (or update the face or caption of) an example; True if something changed.

    A ``caption`` of None keeps the stored one (the examples folder knows no captions)."""
    now = time.time()
    cur = db.conn.execute(
        "INSERT INTO concept_examples (concept_id, path, face_box, source, added_at, caption) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (concept_id, path) DO UPDATE SET "
        "face_box = excluded.face_box, caption = coalesce(excluded.caption, caption) "
        "WHERE face_box IS NOT excluded.face_box "
        "OR (excluded.caption IS NOT NULL AND caption IS NOT excluded.caption)",
        (
            concept_id,
            str(path),
            json.dumps(list(face_box)) if face_box else None,
            source,
            now,
            caption.strip() if caption else None,
        ),
    )
    return cur.rowcount > 0


def remove_example(db: sqlite_utils.Database, concept_id: int, path: Path | str) -> bool:
    """Remove an example; True if it existed."""
    cur = db.conn.execute(
        "DELETE FROM concept_examples WHERE concept_id = ? AND path = ?", (concept_id, str(path))
    )
    return cur.rowcount > 0


def list_examples(db: sqlite_utils.Database, concept_id: int) -> list[Example]:
    """The concept's examples, oldest first (a stable order keeps training reproducible)."""
    rows = db.conn.execute(
        "SELECT id, concept_id, path, face_box, source, caption FROM concept_examples "
        "WHERE concept_id = ? ORDER BY id",
        (concept_id,),
    ).fetchall()
    return [
        Example(r[0], r[1], r[2], tuple(json.loads(r[3])) if r[3] else None, r[4], r[5])
        for r in rows
    ]


def set_version(
    db: sqlite_utils.Database,
    concept_id: int,
    version: int,
    head_model: str,
    metrics: dict[str, Any],
) -> None:
    """Switch the concept to a newly written version (the atomic switch is this commit)."""
    db.conn.execute(
        "UPDATE concepts SET version = ?, head_model = ?, metrics = ?, updated_at = ? WHERE id = ?",
        (version, head_model, json.dumps(metrics), time.time(), concept_id),
    )


def signature(db: sqlite_utils.Database) -> tuple:
    """Changes whenever a concept is added, removed or switched to another version."""
    return tuple(
        db.conn.execute("SELECT id, version, head, kind FROM concepts ORDER BY id").fetchall()
    )


def exists(db: sqlite_utils.Database, concept_id: int) -> bool:
    """Whether the concept is still there (it may be removed while it trains)."""
    row = db.conn.execute("SELECT 1 FROM concepts WHERE id = ?", (concept_id,)).fetchone()
    return row is not None


def trained_versions(db: sqlite_utils.Database, *, exclude: int | None = None) -> list[tuple]:
    """(id, active version) of every trained concept but ``exclude``, ascending id."""
    return db.conn.execute(
        "SELECT id, version FROM concepts WHERE id IS NOT ? AND version > 0 ORDER BY id",
        (exclude,),
    ).fetchall()


def names(db: sqlite_utils.Database, concept_id: int) -> tuple[str, str] | None:
    """(name, identifier) of a concept, or None if it is gone."""
    row = db.conn.execute(
        "SELECT name, identifier FROM concepts WHERE id = ?", (concept_id,)
    ).fetchone()
    return (row[0], row[1]) if row else None


def detected_photo_ids(db: sqlite_utils.Database, concept_id: int) -> set[int]:
    """Ids of the photos in which the concept fired (any version)."""
    rows = db.conn.execute(
        "SELECT DISTINCT photo_id FROM detections WHERE concept_id = ?", (concept_id,)
    )
    return {r[0] for r in rows.fetchall()}


def rejected_on(db: sqlite_utils.Database, hashes: list[str]) -> dict[str, set[int]]:
    """The concepts the user said are not in each photo content ("this is not Alice")."""
    out: dict[str, set[int]] = {}
    for i in range(0, len(hashes), 500):
        chunk = hashes[i : i + 500]
        rows = db.conn.execute(
            "SELECT content_hash, concept_id FROM not_concepts "
            f"WHERE content_hash IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        for content_hash, concept_id in rows:
            out.setdefault(content_hash, set()).add(concept_id)
    return out
