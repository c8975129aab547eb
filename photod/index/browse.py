"""What the web app shows: the library grid, one photo with its results, concepts, faces.

Read functions take a reader ``db``; the few writes (corrections the user makes) run inside
the writer's transaction like every other function of this package.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from photod.index import jobs
from photod.index.tags import CONCEPT_SOURCE


@dataclass
class GridPhoto:
    """One tile of the library grid."""

    id: int
    path: str
    taken_at: str | None
    content_hash: str | None


@dataclass
class Box:
    """A face or concept box on a photo, normalised to the oriented image (0..1)."""

    x: float
    y: float
    w: float
    h: float
    label: str
    score: float | None
    kind: str  # person | pet | object | face (unnamed)
    face_id: int | None = None
    concept: str | None = None
    version: int | None = None
    model: str | None = None
    source: str | None = None  # what placed a pet's/object's box: head or vlm


@dataclass
class PhotoDetail:
    """Everything the index knows about one photo."""

    id: int
    path: str
    content_hash: str | None
    status: str
    facts: dict[str, Any]
    boxes: list[Box] = field(default_factory=list)
    captions: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)


_GRID = "SELECT id, path, taken_at, content_hash FROM photos"


def library_page(db: sqlite_utils.Database, limit: int, offset: int = 0) -> list[GridPhoto]:
    """Present photos, newest first (undated last), one page (index ``photos_taken``)."""
    rows = db.conn.execute(
        f"{_GRID} INDEXED BY photos_taken WHERE status != 'missing' "
        "ORDER BY taken_at DESC, id DESC LIMIT ? OFFSET ?",
        (limit, offset),
    ).fetchall()
    return [GridPhoto(*r) for r in rows]


@dataclass
class Facet:
    """A filter chip of the library page: a label and the query it runs."""

    kind: str  # date | folder | place
    label: str
    query: str
    count: int


def _quoted(value: str) -> str:
    return f'"{value}"' if any(c in value for c in ' "') else value


def facets(db: sqlite_utils.Database, per_kind: int = 8) -> list[Facet]:
    """The years, folders and places with the most photos (newest years first)."""
    present = "status != 'missing'"
    years = db.conn.execute(
        f"SELECT substr(taken_at, 1, 4) AS y, count(*) FROM photos WHERE {present} "
        "AND taken_at IS NOT NULL GROUP BY y ORDER BY y DESC LIMIT ?",
        (per_kind,),
    ).fetchall()
    # The folder a photo is in: rtrim by every character but '/' leaves the parent path.
    folders = db.conn.execute(
        "SELECT rtrim(d, '/') AS folder, count(*) AS n FROM (SELECT "
        f"rtrim(path, replace(path, '/', '')) AS d FROM photos WHERE {present}) "
        "GROUP BY folder ORDER BY n DESC, folder LIMIT ?",
        (per_kind,),
    ).fetchall()
    # The town is the first part of "town, county, region, country".
    places = db.conn.execute(
        "SELECT CASE WHEN instr(place, ',') THEN substr(place, 1, instr(place, ',') - 1) "
        f"ELSE place END AS town, count(*) AS n FROM photos WHERE {present} "
        "AND place IS NOT NULL GROUP BY town ORDER BY n DESC, town LIMIT ?",
        (per_kind,),
    ).fetchall()
    out = [Facet("date", y, f"after:{y} before:{int(y) + 1}", n) for y, n in years if y.isdigit()]
    out += [Facet("folder", f.rsplit("/", 1)[-1] or f, f"in:{_quoted(f)}", n) for f, n in folders]
    out += [Facet("place", t.strip(), f"near:{_quoted(t.strip())}", n) for t, n in places if t]
    return out


def grid_photos(db: sqlite_utils.Database, ids: list[int]) -> list[GridPhoto]:
    """The tiles of these photos, in the order of ``ids``."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = db.conn.execute(f"{_GRID} WHERE id IN ({marks})", ids).fetchall()
    by_id = {r[0]: GridPhoto(*r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def concept_photo_ids(
    db: sqlite_utils.Database, name: str, limit: int, offset: int = 0
) -> list[int]:
    """Ids of the present photos in which the concept ``name`` fired, newest first."""
    rows = db.conn.execute(
        "SELECT p.id FROM photos p WHERE p.status != 'missing' AND EXISTS (SELECT 1 FROM "
        "detections d JOIN concepts c ON c.id = d.concept_id WHERE d.photo_id = p.id "
        "AND c.name = ? COLLATE NOCASE) ORDER BY p.taken_at DESC, p.id DESC LIMIT ? OFFSET ?",
        (name, limit, offset),
    ).fetchall()
    return [r[0] for r in rows]


def photo_file(db: sqlite_utils.Database, photo_id: int) -> tuple[str, str | None] | None:
    """(path, content hash) of a present photo, or None."""
    row = db.conn.execute(
        "SELECT path, content_hash FROM photos WHERE id = ? AND status != 'missing'", (photo_id,)
    ).fetchone()
    return (row[0], row[1]) if row else None


def face_file(db: sqlite_utils.Database, face_id: int) -> tuple[int, str, str | None, tuple] | None:
    """(photo id, path, content hash, (x, y, w, h)) of a face of a present photo, or None."""
    row = db.conn.execute(
        "SELECT p.id, p.path, p.content_hash, f.x, f.y, f.w, f.h FROM faces f "
        "JOIN photos p ON p.id = f.photo_id WHERE f.id = ? AND p.status != 'missing'",
        (face_id,),
    ).fetchone()
    return (row[0], row[1], row[2], tuple(row[3:])) if row else None


def photo_detail(db: sqlite_utils.Database, photo_id: int) -> PhotoDetail | None:
    """The photo's facts, boxes, captions, answers and tags; None if unknown."""
    row = db.conn.execute(
        "SELECT id, path, content_hash, status, width, height, format, taken_at, size, "
        "orientation FROM photos WHERE id = ?",
        (photo_id,),
    ).fetchone()
    if row is None:
        return None
    keys = ("width", "height", "format", "taken_at", "size", "orientation")
    detail = PhotoDetail(row[0], row[1], row[2], row[3], dict(zip(keys, row[4:], strict=True)))
    detail.boxes = _boxes(db, photo_id)
    for text, model, versions in db.conn.execute(
        "SELECT text, model, concept_versions FROM captions WHERE photo_id = ? ORDER BY model",
        (photo_id,),
    ):
        detail.captions.append({"text": text, "model": model, "versions": json.loads(versions)})
    for q, a, model, versions in db.conn.execute(
        "SELECT question, answer, model, concept_versions FROM answers WHERE photo_id = ? "
        "ORDER BY id",
        (photo_id,),
    ):
        detail.answers.append(
            {"question": q, "answer": a, "model": model, "versions": json.loads(versions)}
        )
    for value, source, model, score in db.conn.execute(
        "SELECT value, source, model, score FROM tags WHERE photo_id = ? ORDER BY value",
        (photo_id,),
    ):
        detail.tags.append({"value": value, "source": source, "model": model, "score": score})
    return detail


def _boxes(db: sqlite_utils.Database, photo_id: int) -> list[Box]:
    boxes: list[Box] = []
    named: set[int] = set()
    for r in db.conn.execute(
        "SELECT f.id, f.x, f.y, f.w, f.h, d.score, c.name, c.kind, d.concept_version, "
        "d.head_model FROM detections d JOIN concepts c ON c.id = d.concept_id "
        "JOIN faces f ON f.id = d.face_id WHERE d.photo_id = ? ORDER BY f.x",
        (photo_id,),
    ):
        named.add(r[0])
        boxes.append(Box(*r[1:5], r[6], r[5], r[7], r[0], r[6], r[8], r[9]))
    for r in db.conn.execute(
        "SELECT d.x, d.y, d.w, d.h, d.score, c.name, c.kind, d.concept_version, d.head_model, "
        "d.box_source FROM detections d JOIN concepts c ON c.id = d.concept_id "
        "WHERE d.photo_id = ? AND d.face_id IS NULL ORDER BY c.name",
        (photo_id,),
    ):
        x, y, w, h = r[:4] if r[0] is not None else (0.0, 0.0, 1.0, 1.0)
        boxes.append(Box(x, y, w, h, r[5], r[4], r[6], None, r[5], r[7], r[8], r[9]))
    for r in db.conn.execute(
        "SELECT id, x, y, w, h, score, model FROM faces WHERE photo_id = ? ORDER BY x",
        (photo_id,),
    ):
        if r[0] not in named:
            boxes.append(Box(*r[1:5], "unnamed face", r[5], "face", r[0], model=r[6]))
    return boxes


def concept_cards(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Per concept: photo count, a cover (its best detection's photo and face, if a face),
    and the last training time."""
    rows = db.conn.execute(
        "SELECT c.id, c.name, c.kind, c.class_word, c.version, c.head_model, c.metrics, "
        "CASE WHEN c.version > 0 THEN c.updated_at END, "
        "(SELECT count(DISTINCT d.photo_id) FROM detections d WHERE d.concept_id = c.id), "
        "(SELECT d.photo_id FROM detections d WHERE d.concept_id = c.id "
        " ORDER BY d.score DESC LIMIT 1), "
        "(SELECT d.face_id FROM detections d WHERE d.concept_id = c.id "
        " ORDER BY d.score DESC LIMIT 1) "
        "FROM concepts c ORDER BY c.kind, c.name COLLATE NOCASE"
    ).fetchall()
    keys = ("id", "name", "kind", "class_word", "version", "head_model", "metrics")
    cards = []
    for r in rows:
        card = dict(zip(keys, r[:7], strict=True))
        card["metrics"] = json.loads(card["metrics"]) if card["metrics"] else {}
        card.update(trained_at=r[7], photos=r[8], cover=r[9], cover_face=r[10])
        cards.append(card)
    return cards


def photo_ids_by_path(db: sqlite_utils.Database, paths: list[str]) -> dict[str, int]:
    """path -> id of those of ``paths`` that are indexed photos."""
    out: dict[str, int] = {}
    for i in range(0, len(paths), 500):
        chunk = paths[i : i + 500]
        marks = ",".join("?" * len(chunk))
        out.update(db.conn.execute(f"SELECT path, id FROM photos WHERE path IN ({marks})", chunk))
    return out


def cluster_faces(db: sqlite_utils.Database) -> dict[int, list[tuple[int, int]]]:
    """cluster id -> [(face id, photo id)] of every clustered face of a present photo."""
    out: dict[int, list[tuple[int, int]]] = {}
    for cid, fid, pid in db.conn.execute(
        "SELECT c.cluster_id, f.id, f.photo_id FROM face_clusters c JOIN faces f "
        "ON f.id = c.face_id JOIN photos p ON p.id = f.photo_id WHERE p.status != 'missing' "
        "ORDER BY c.cluster_id, f.id"
    ):
        out.setdefault(cid, []).append((fid, pid))
    return out


def merge_clusters(db: sqlite_utils.Database, source: int, target: int) -> int:
    """Move every face of cluster ``source`` into ``target``; return how many moved."""
    cur = db.conn.execute(
        "UPDATE face_clusters SET cluster_id = ? WHERE cluster_id = ?", (target, source)
    )
    return cur.rowcount


def split_face(db: sqlite_utils.Database, face_id: int) -> int | None:
    """Move a face into a new cluster of its own; return that cluster's id (None: unclustered).

    Clustering only visits faces without a cluster, so the face stays apart."""
    new = db.conn.execute("SELECT coalesce(max(cluster_id), 0) + 1 FROM face_clusters").fetchone()
    cur = db.conn.execute(
        "UPDATE face_clusters SET cluster_id = ? WHERE face_id = ?", (new[0], face_id)
    )
    return new[0] if cur.rowcount else None


def mark_not_face(db: sqlite_utils.Database, face_id: int) -> bool:
    """Record a false face detection as a negative and delete the face (its cluster
    membership and any person detection on it go with it); False if no such face."""
    row = db.conn.execute(
        "SELECT p.content_hash, f.model, f.x, f.y, f.w, f.h FROM faces f "
        "JOIN photos p ON p.id = f.photo_id WHERE f.id = ?",
        (face_id,),
    ).fetchone()
    if row is None:
        return False
    db.conn.execute(
        "INSERT OR REPLACE INTO not_faces (content_hash, model, x, y, w, h, marked_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (*row, time.time()),
    )
    db.conn.execute("DELETE FROM faces WHERE id = ?", (face_id,))
    return True


# A re-detected box lands within this (normalised) distance of the one the user marked.
NOT_FACE_TOLERANCE = 0.02


def drop_not_faces(db: sqlite_utils.Database, photo_id: int) -> None:
    """Delete the photo's faces that the user marked "not a face" (after a re-run)."""
    db.conn.execute(
        "DELETE FROM faces WHERE photo_id = ? AND EXISTS (SELECT 1 FROM not_faces n "
        "JOIN photos p ON p.content_hash = n.content_hash WHERE p.id = faces.photo_id "
        "AND n.model = faces.model AND abs(n.x - faces.x) < ? AND abs(n.y - faces.y) < ?)",
        (photo_id, NOT_FACE_TOLERANCE, NOT_FACE_TOLERANCE),
    )


def not_this_concept(db: sqlite_utils.Database, photo_id: int, concept: str) -> int:
    """The user says ``concept`` is not in the photo: remember it for the photo's content (the
    heads never name the concept there again), delete its detections and tags now, and queue
    the photo once more so its captions are written without it. Returns detections dropped."""
    row = db.conn.execute(
        "SELECT p.path, p.content_hash, c.id, c.name FROM photos p, concepts c "
        "WHERE p.id = ? AND c.name = ? COLLATE NOCASE",
        (photo_id, concept),
    ).fetchone()
    if row is None:
        return 0
    path, content_hash, concept_id, name = row
    if content_hash:
        db.conn.execute(
            "INSERT OR REPLACE INTO not_concepts (content_hash, concept_id, marked_at) "
            "VALUES (?, ?, ?)",
            (content_hash, concept_id, time.time()),
        )
    cur = db.conn.execute(
        "DELETE FROM detections WHERE photo_id = ? AND concept_id = ?", (photo_id, concept_id)
    )
    dropped = cur.rowcount
    db.conn.execute(
        "DELETE FROM tags WHERE photo_id = ? AND source = ? AND value = ?",
        (photo_id, CONCEPT_SOURCE, name),
    )
    if dropped:
        jobs.enqueue(db, jobs.INDEX, path, {"force": True})
    return dropped


def present_hashes(db: sqlite_utils.Database) -> set[str]:
    """Content hashes of every photo still in the index (thumbnails of others are orphans)."""
    rows = db.conn.execute("SELECT DISTINCT content_hash FROM photos WHERE content_hash NOT NULL")
    return {r[0] for r in rows}
