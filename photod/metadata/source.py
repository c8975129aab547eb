"""Building :class:`PhotoMetadata` from the pipeline's results or from the index."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlite_utils

from photod.config import MetadataConfig
from photod.metadata.model import FACE, PET, Geometry, PhotoMetadata, Region
from photod.pipeline.task import PhotoTask

_YES_NO = {"yes", "no", "none", "nothing", "unknown", "n/a"}
_TRIM = re.compile(r"^[\s\"'“”‘’]+|[\s.!?,;:\"'“”‘’]+$")


@dataclass(frozen=True)
class Found:
    """A concept found in the photo; ``kind`` is the concepts table's (person, pet, object)."""

    name: str
    kind: str
    box: tuple[float, float, float, float] | None = None


def answer_tag(answer: str, max_words: int) -> str | None:
    """A short VQA answer as a keyword (``"A beach."`` -> ``"beach"``), or None."""
    text = _TRIM.sub("", answer)
    words = text.split()
    if words and words[0].lower() in ("a", "an", "the"):
        words = words[1:]
    tag = " ".join(words)
    if not tag or len(words) > max_words or tag.lower() in _YES_NO:
        return None
    return tag


def build(
    geometry: Geometry,
    caption: str | None,
    found: list[Found],
    answers: list[str],
    config: MetadataConfig,
) -> PhotoMetadata:
    """What to write for a photo, from what was found in it."""
    roots = {"person": config.people_root, "pet": config.pets_root}
    meta = PhotoMetadata(geometry=geometry, caption=caption or None)
    for item in found:
        meta.keywords.append(item.name)
        meta.hierarchy.append((roots.get(item.kind, config.objects_root), item.name))
        if item.kind == "person":
            meta.people.append(item.name)
        if item.box is not None and item.kind in roots:
            meta.regions.append(Region(item.name, FACE if item.kind == "person" else PET, item.box))
    if config.answer_tags:
        for answer in answers:
            tag = answer_tag(answer, config.max_tag_words)
            if tag:
                meta.keywords.append(tag)
                meta.hierarchy.append((config.tags_root, tag))
    meta.keywords = list(dict.fromkeys(meta.keywords))
    meta.hierarchy = list(dict.fromkeys(meta.hierarchy))
    meta.people = list(dict.fromkeys(meta.people))
    return meta


def pick_caption(captions: list[tuple[str, str]], model: str | None) -> str | None:
    """The caption of ``model`` if given and present, else the first; from (model, text)."""
    for cap_model, text in captions:
        if model is None or cap_model == model:
            return text
    return captions[0][1] if captions else None


def concepts_by_id(db: sqlite_utils.Database, ids: set[int]) -> dict[int, tuple[str, str]]:
    """(name, kind) of the given concept ids."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.conn.execute(f"SELECT id, name, kind FROM concepts WHERE id IN ({marks})", list(ids))
    return {r[0]: (r[1], r[2]) for r in rows}


def from_task(
    task: PhotoTask, concepts: dict[int, tuple[str, str]], config: MetadataConfig
) -> PhotoMetadata:
    """The metadata of a task that went through the pipeline."""
    assert task.info is not None
    found = []
    for det in task.detections:
        if det.concept_id not in concepts:
            continue
        name, kind = concepts[det.concept_id]
        box = det.box
        if det.face_index is not None and det.face_index < len(task.faces):
            box = task.faces[det.face_index].box
        found.append(Found(name, kind, box))
    info = task.info
    return build(
        Geometry(info.width, info.height, info.orientation or 1),
        pick_caption([(c.model, c.text) for c in task.captions], config.caption_model),
        found,
        [a.answer for a in task.answers],
        config,
    )


def from_index(db: sqlite_utils.Database, photo_id: int, config: MetadataConfig) -> PhotoMetadata:
    """The metadata of an indexed photo, from its stored results.

    Pet and object boxes are not stored in the index (only face boxes are), so a rewrite from
    the index carries face regions only.
    """
    width, height, orientation = db.conn.execute(
        "SELECT width, height, orientation FROM photos WHERE id = ?", (photo_id,)
    ).fetchone()
    rows = db.conn.execute(
        "SELECT c.name, c.kind, f.x, f.y, f.w, f.h FROM detections d "
        "JOIN concepts c ON c.id = d.concept_id LEFT JOIN faces f ON f.id = d.face_id "
        "WHERE d.photo_id = ? ORDER BY d.id",
        (photo_id,),
    ).fetchall()
    found = [Found(r[0], r[1], None if r[2] is None else tuple(r[2:6])) for r in rows]
    captions = db.conn.execute(
        "SELECT model, text FROM captions WHERE photo_id = ? ORDER BY id", (photo_id,)
    ).fetchall()
    answers = db.conn.execute(
        "SELECT answer FROM answers WHERE photo_id = ? ORDER BY id", (photo_id,)
    ).fetchall()
    return build(
        Geometry(width or 0, height or 0, orientation or 1),
        pick_caption([tuple(c) for c in captions], config.caption_model),
        found,
        [a[0] for a in answers],
        config,
    )
