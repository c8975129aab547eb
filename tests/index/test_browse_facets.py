"""The library page's filter chips: years, folders and places with the most photos."""

from __future__ import annotations

from photod.index import Index, browse
from photod.index.bulk import BulkPhoto
from photod.search.engine import SearchEngine


def test_facets_run_as_queries_that_find_their_photos(tmp_path):
    with Index(tmp_path / "i.sqlite") as index:
        index.photos.add_bulk(
            [
                BulkPhoto("/lib/trip/a.jpg", "2023-05-01T10:00:00", place="Lisbon, Lisboa, PT"),
                BulkPhoto("/lib/trip/b.jpg", "2023-06-01T10:00:00", place="Lisbon, Lisboa, PT"),
                BulkPhoto("/lib/home/c.jpg", "2024-01-02T10:00:00", place="Porto, Porto, PT"),
                BulkPhoto("/lib/home/d.jpg"),
            ]
        )
        facets = index.read(browse.facets)
        got = {(f.kind, f.label): (f.query, f.count) for f in facets}
        assert got == {
            ("date", "2024"): ("after:2024 before:2025", 1),
            ("date", "2023"): ("after:2023 before:2024", 2),
            ("folder", "trip"): ("in:/lib/trip", 2),
            ("folder", "home"): ("in:/lib/home", 2),
            ("place", "Lisbon"): ("near:Lisbon", 2),
            ("place", "Porto"): ("near:Porto", 1),
        }
        engine = SearchEngine(index)
        for f in facets:
            found = engine.search(f.query, limit=10).results
            assert len(found) == f.count, f.query
