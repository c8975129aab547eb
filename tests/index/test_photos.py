"""Index writes for moves and deletions keep identity and never lose unrelated rows."""

from __future__ import annotations

from photod.index.db import open_index
from photod.index.photos import mark_missing, move_photo, purge_missing


def _db(tmp_path, *paths):
    db = open_index(tmp_path / "i.sqlite")
    for p in paths:
        db["photos"].insert({"path": p})
    return db


def ids(db):
    return dict(db.execute("SELECT path, id FROM photos").fetchall())


def test_move_file_and_folder_keep_ids(tmp_path):
    db = _db(tmp_path, "/r/a.jpg", "/r/d/b.jpg", "/r/d/e/c.jpg", "/r/d2/x.jpg")
    before = ids(db)
    assert move_photo(db, "/r/a.jpg", "/r/z.jpg") == 1
    assert move_photo(db, "/r/d", "/r/n") == 2
    after = ids(db)
    assert after["/r/z.jpg"] == before["/r/a.jpg"]
    assert after["/r/n/b.jpg"] == before["/r/d/b.jpg"]
    assert after["/r/n/e/c.jpg"] == before["/r/d/e/c.jpg"]
    assert after["/r/d2/x.jpg"] == before["/r/d2/x.jpg"]  # a sibling with a shared prefix


def test_move_of_unknown_source_leaves_destination_alone(tmp_path):
    db = _db(tmp_path, "/r/keep.jpg")
    assert move_photo(db, "/r/never-indexed.jpg", "/r/keep.jpg") == 0
    assert "/r/keep.jpg" in ids(db)


def test_missing_rows_wait_for_purge(tmp_path):
    real = tmp_path / "still-here.jpg"
    real.write_bytes(b"x")
    db = _db(tmp_path, "/gone/a.jpg", "/gone/sub/b.jpg", str(real))
    assert mark_missing(db, "/gone") == 2
    assert mark_missing(db, str(real)) == 1
    statuses = dict(db.execute("SELECT path, status FROM photos").fetchall())
    assert set(statuses.values()) == {"missing"}
    # Purge deletes only what is really gone (the file came back: keep it).
    assert purge_missing(db) == 2
    assert list(ids(db)) == [str(real)]


def test_purge_drops_clip_embeddings_no_photo_has(tmp_path):
    db = open_index(tmp_path / "i.sqlite")
    db["photos"].insert_all(
        [
            {"path": "/gone/a.jpg", "content_hash": "h-a"},
            {"path": "/gone/copy.jpg", "content_hash": "h-b"},
            {"path": str(tmp_path), "content_hash": "h-b"},  # exists: a copy of h-b stays
        ]
    )
    for h in ("h-a", "h-b"):
        db["clip_embeddings"].insert({"content_hash": h, "model": "m", "embedding": b"\0" * 8})
    mark_missing(db, "/gone")
    assert purge_missing(db) == 2
    kept = [r[0] for r in db.execute("SELECT content_hash FROM clip_embeddings").fetchall()]
    assert kept == ["h-b"]
