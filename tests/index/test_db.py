"""The index file: permissions, WAL, migrations, FTS kept in sync by triggers."""

from __future__ import annotations

import stat

import pytest

from photod.index.db import connect, open_index
from photod.index.migrations import MIGRATIONS, applied_migrations, schema_version
from photod.search.query import QueryError
from tests.search_helpers import fields, search


def test_index_is_owner_only_wal_and_migrated(tmp_path):
    path = tmp_path / "data" / "index.sqlite"
    db = open_index(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert applied_migrations(db) == [name for name, _ in MIGRATIONS]
    assert schema_version(db) == len(MIGRATIONS)
    db["photos"].insert({"path": "/x.jpg"})
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
    db.close()
    # Re-opening applies nothing new and keeps the data.
    db = open_index(path)
    assert db["photos"].count == 1


def test_fts_follows_captions_and_answers(tmp_path):
    db = open_index(tmp_path / "i.sqlite")
    pid = db["photos"].insert({"path": "/p/a.jpg"}).last_pk
    cid = (
        db["captions"]
        .insert(
            {
                "photo_id": pid,
                "text": "Alice throwing a ball for Rex",
                "model": "m",
                "created_at": 0,
            }
        )
        .last_pk
    )
    db["answers"].insert(
        {
            "photo_id": pid,
            "question": "Where is Rex?",
            "answer": "on the beach",
            "model": "m",
            "created_at": 0,
        }
    )
    assert [h.path for h in search(db, "rex beach")] == ["/p/a.jpg"]
    assert [fields(h) for h in search(db, "alice ball")] == [["snippet"]]
    db["captions"].update(cid, {"text": "Bob alone"})
    assert search(db, "alice") == []
    assert len(search(db, "bob")) == 1
    # Deleting the photo cascades to captions and answers, and the triggers empty the FTS.
    db.execute("DELETE FROM photos WHERE id = ?", [pid])
    assert search(db, "bob") == [] and search(db, "beach") == []
    assert (
        connect(tmp_path / "i.sqlite").execute("SELECT count(*) FROM photo_fts").fetchone()[0] == 0
    )


def test_search_input_with_fts_syntax_is_safe(tmp_path):
    db = open_index(tmp_path / "i.sqlite")
    assert search(db, "AND OR NEAR( NOT") == []  # FTS5 operators are words to look for
    for bad in ('AND OR "NEAR(', ""):
        with pytest.raises(QueryError):
            search(db, bad)
