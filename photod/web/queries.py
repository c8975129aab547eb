"""The web app's one way into search, and the library grid's pages.

:func:`search` is the only place the web app runs a query: it understands ``person:NAME``,
``pet:NAME`` and ``object:NAME`` (quoted names with spaces too) and free words, which go to
the index's text search. Point it at the search engine when that grows a query language.
"""

from __future__ import annotations

import re

from photod.index import Index, browse
from photod.index.browse import GridPhoto

_FILTER = re.compile(r'(?:person|pet|object):(?:"([^"]+)"|(\S+))', re.IGNORECASE)
# Free words narrow a name filter: read this many name hits before intersecting.
_NAME_HITS = 10_000


def search(index: Index, text: str, limit: int, offset: int = 0) -> list[GridPhoto]:
    """One page of the photos matching ``text``; the whole library, newest first, if empty."""
    names = [a or b for a, b in _FILTER.findall(text)]
    words = _FILTER.sub(" ", text).strip()
    if not names and not words:
        return index.read(lambda db: browse.library_page(db, limit, offset))
    ids: list[int] | None = None
    # One name alone is paged by the index itself; several, or words, are intersected.
    wanted = offset + limit if len(names) == 1 and not words else _NAME_HITS
    for name in names:
        found = index.read(lambda db, n=name: browse.concept_photo_ids(db, n, wanted))
        ids = found if ids is None else _both(ids, found)
    if words:
        wanted = _NAME_HITS if ids is not None else offset + limit
        hits = [h.photo_id for h in index.photos.search(words, limit=wanted)]
        ids = hits if ids is None else _both(ids, hits)
    page = (ids or [])[offset : offset + limit]
    return index.read(lambda db: browse.grid_photos(db, page))


def _both(ids: list[int], other: list[int]) -> list[int]:
    keep = set(other)
    return [i for i in ids if i in keep]
