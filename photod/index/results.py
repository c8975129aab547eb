"""Reading back everything the index holds about one photo (what its metadata is built from)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlite_utils

from photod.index.tags import StoredTag, photo_tags

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Found:
    """A concept found in the photo; ``kind`` is the concepts table's (person, pet, object).

    ``box`` is the person's face box or the pet's/object's detection box (normalised x, y, w,
    h in the oriented image), None when the head gave none.
    """

    name: str
    kind: str
    box: Box | None = None
    box_source: str | None = None  # head or vlm for a pet's/object's own box


@dataclass
class StoredPhoto:
    """One indexed photo: the file version the index knows and the photo's stored results."""

    photo_id: int
    path: str
    size: int
    mtime_ns: int
    width: int
    height: int
    orientation: int
    found: list[Found] = field(default_factory=list)
    captions: list[tuple[str, str]] = field(default_factory=list)  # (model, text)
    answers: list[str] = field(default_factory=list)
    tags: list[StoredTag] = field(default_factory=list)


def stored_photo(db: sqlite_utils.Database, photo_id: int) -> StoredPhoto | None:
    """The photo's row and results, or None when no such photo is indexed."""
    row = db.conn.execute(
        "SELECT path, size, mtime_ns, width, height, orientation FROM photos "
        "WHERE id = ? AND status = 'indexed'",
        (photo_id,),
    ).fetchone()
    if row is None:
        return None
    path, size, mtime_ns, width, height, orientation = row
    photo = StoredPhoto(photo_id, path, size, mtime_ns, width or 0, height or 0, orientation or 1)
    rows = db.conn.execute(
        "SELECT c.name, c.kind, d.box_source, f.x, f.y, f.w, f.h, d.x, d.y, d.w, d.h "
        "FROM detections d "
        "JOIN concepts c ON c.id = d.concept_id LEFT JOIN faces f ON f.id = d.face_id "
        "WHERE d.photo_id = ? ORDER BY d.id",
        (photo_id,),
    )
    for name, kind, source, *boxes in rows:
        face, own = boxes[:4], boxes[4:]
        box = face if face[0] is not None else own if own[0] is not None else None
        source = source if face[0] is None else None
        photo.found.append(Found(name, kind, None if box is None else tuple(box), source))
    photo.captions = [
        (model, text)
        for model, text in db.conn.execute(
            "SELECT model, text FROM captions WHERE photo_id = ? ORDER BY id", (photo_id,)
        )
    ]
    photo.answers = [
        a for (a,) in db.conn.execute(
            "SELECT answer FROM answers WHERE photo_id = ? ORDER BY id", (photo_id,)
        )
    ]  # fmt: skip
    photo.tags = photo_tags(db, photo_id)
    return photo
