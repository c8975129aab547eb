"""Searching a test's index file through the real search engine."""

from __future__ import annotations

import sqlite_utils

from photod.index import Index
from photod.search.engine import SearchEngine
from photod.search.results import Result


def search(db: sqlite_utils.Database, text: str, **kwargs) -> list[Result]:
    """The results of ``text`` over the index file ``db`` is open on (read-only)."""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    index = Index(path, readonly=True)
    try:
        return SearchEngine(index).search(text, mode="exact", **kwargs).results
    finally:
        index.close()


def fields(result: Result) -> list[str]:
    """What a result matched on (person, tag, snippet...)."""
    return [m.field for m in result.matched]
