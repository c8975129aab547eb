"""The web app's one way into search, and the library grid's pages.

:func:`search` is the only place the web app runs a query: the query language of
``photod search`` (:mod:`photod.search.query`) through the search engine.
"""

from __future__ import annotations

from photod.index import Index, browse
from photod.index.browse import GridPhoto
from photod.search.engine import SearchEngine


def search(
    index: Index, engine: SearchEngine, text: str, limit: int, offset: int = 0
) -> list[GridPhoto]:
    """One page of the photos matching ``text``, best first; the whole library, newest
    first, if empty. A malformed query raises :class:`QueryError` (its message names the
    bad part, for the page to show)."""
    if not text.strip():
        return index.read(lambda db: browse.library_page(db, limit, offset))
    results = engine.search(text, limit=limit, offset=offset)
    page = [r.photo_id for r in results.results]
    return index.read(lambda db: browse.grid_photos(db, page))
