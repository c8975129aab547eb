"""The tags table: typed labels that stages and plugins give a photo (``blurry``).

Each function runs on the caller's connection: the writes inside the index writer's
transaction (the photo's commit), the reads on a reader connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlite_utils

if TYPE_CHECKING:
    from photod.pipeline.task import Tag


#: ``source`` of the tags photod derives itself: the concepts found in the photo (``model`` is
#: the head model and concept version) and short VQA answers (``model`` is the VLM's).
CONCEPT_SOURCE = "concept"
ANSWER_SOURCE = "vqa"
#: Longer answers are sentences, not tags (the metadata writer may keep fewer words).
ANSWER_TAG_WORDS = 5

_YES_NO = {"yes", "no", "none", "nothing", "unknown", "n/a"}
_TRIM = re.compile(r"^[\s\"'“”‘’]+|[\s.!?,;:\"'“”‘’]+$")


def answer_tag(answer: str, max_words: int = ANSWER_TAG_WORDS) -> str | None:
    """A short VQA answer as a tag (``"A beach."`` -> ``"beach"``), or None."""
    text = _TRIM.sub("", answer)
    words = text.split()
    if words and words[0].lower() in ("a", "an", "the"):
        words = words[1:]
    tag = " ".join(words)
    if not tag or len(words) > max_words or tag.lower() in _YES_NO:
        return None
    return tag


@dataclass(frozen=True)
class StoredTag:
    """One tag as the index holds it."""

    value: str
    source: str
    model: str
    score: float | None


def insert_tags(db: sqlite_utils.Database, photo_id: int, tags: Iterable[Tag]) -> None:
    """Add the photo's tags; a value given twice by the same source is stored once."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO tags (photo_id, value, source, model, score) VALUES (?, ?, ?, ?, ?)",
        [(photo_id, t.value, t.source, t.model, t.score) for t in tags],
    )


def insert_derived_tags(db: sqlite_utils.Database, photo_id: int, answers: Iterable) -> None:
    """Tag the photo with the names of the concepts its detections found and with its short
    VQA answers (``answers``: objects with ``answer`` and ``model``)."""
    db.conn.execute(
        "INSERT OR IGNORE INTO tags (photo_id, value, source, model, score) "
        "SELECT d.photo_id, c.name, ?, d.head_model || '@v' || d.concept_version, max(d.score) "
        "FROM detections d JOIN concepts c ON c.id = d.concept_id WHERE d.photo_id = ? "
        "GROUP BY c.id",
        (CONCEPT_SOURCE, photo_id),
    )
    insert_tags(
        db,
        photo_id,
        [_Derived(tag, ANSWER_SOURCE, a.model) for a in answers if (tag := answer_tag(a.answer))],
    )


@dataclass(frozen=True)
class _Derived:
    value: str
    source: str
    model: str
    score: float | None = None


def photo_tags(db: sqlite_utils.Database, photo_id: int) -> list[StoredTag]:
    """The photo's tags in the order they were stored."""
    rows = db.conn.execute(
        "SELECT value, source, model, score FROM tags WHERE photo_id = ? ORDER BY id",
        (photo_id,),
    )
    return [StoredTag(*row) for row in rows]
