"""The tags table: typed labels that stages and plugins give a photo (``blurry``).

Each function runs on the caller's connection: the writes inside the index writer's
transaction (the photo's commit), the reads on a reader connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlite_utils

if TYPE_CHECKING:
    from photod.pipeline.task import Tag


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


def photo_tags(db: sqlite_utils.Database, photo_id: int) -> list[StoredTag]:
    """The photo's tags in the order they were stored."""
    rows = db.conn.execute(
        "SELECT value, source, model, score FROM tags WHERE photo_id = ? ORDER BY id",
        (photo_id,),
    )
    return [StoredTag(*row) for row in rows]
