"""The search index: documents kept in sync by triggers, bulk loads, the migration's backfill,
plans run as SQL (real SQLite files)."""

from __future__ import annotations

import sqlite_utils

from photod.index.bulk import BulkPhoto, add_photos
from photod.index.db import open_index
from photod.index.migrations import MIGRATIONS, migrate
from photod.index.search import Condition, Plan, by_date, compile_plan, keep, ranked
from photod.index.search_schema import COLUMNS
from photod.index.tags import photo_tags


def _doc(db: sqlite_utils.Database, photo_id: int) -> dict[str, str | None]:
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM photo_fts WHERE rowid = ?", [photo_id])
    found = row.fetchone()
    return dict(zip(COLUMNS, found, strict=True)) if found else {}


def _concept(db: sqlite_utils.Database, name: str, kind: str = "person") -> int:
    return db["concepts"].insert(
        {"name": name, "identifier": name, "kind": kind, "class_word": "x",
         "created_at": 0, "updated_at": 0}
    ).last_pk  # fmt: skip


def test_documents_follow_every_table(tmp_path):
    db = open_index(tmp_path / "i.sqlite")
    pid = db["photos"].insert(
        {"path": "/lib/Holidays 2023/IMG_0001.jpg", "taken_at": "2023-06-14T10:00:00+01:00",
         "camera": "FUJIFILM X100V", "lens": "23mm F2", "place": "Lisbon, Portugal"}
    ).last_pk  # fmt: skip
    alice = _concept(db, "Alice")
    det = db["detections"].insert(
        {"photo_id": pid, "concept_id": alice, "score": 0.9, "head_model": "h",
         "concept_version": 1}
    ).last_pk  # fmt: skip
    db["tags"].insert({"photo_id": pid, "value": "blurry", "source": "s", "model": "m"})
    db["captions"].insert({"photo_id": pid, "text": "a dog", "model": "m", "created_at": 0})
    db["answers"].insert(
        {"photo_id": pid, "question": "Where is it?", "answer": "a beach", "model": "m",
         "created_at": 0}
    )  # fmt: skip
    assert _doc(db, pid) == {
        "names": "Alice", "tags": "blurry", "text": "a dog a beach",  # no question words
        "place": "Lisbon, Portugal", "folder": "/lib/Holidays 2023/", "file": "IMG_0001.jpg",
        "camera": "FUJIFILM X100V", "lens": "23mm F2", "date": "2023 june",
    }  # fmt: skip
    db.execute("UPDATE concepts SET name = 'Alicia' WHERE id = ?", [alice])
    assert _doc(db, pid)["names"] == "Alicia Alice"  # renamed; the identifier stays
    db.execute("DELETE FROM detections WHERE id = ?", [det])
    db.execute("UPDATE photos SET path = '/lib/x.jpg', taken_at = NULL WHERE id = ?", [pid])
    doc = _doc(db, pid)
    assert (doc["names"], doc["folder"], doc["file"], doc["date"]) == (None, "/lib/", "x.jpg", None)
    db.execute("DELETE FROM photos WHERE id = ?", [pid])  # cascades to its rows
    assert db.execute("SELECT count(*) FROM photo_fts").fetchone()[0] == 0


def test_bulk_load_builds_the_documents_the_triggers_would(tmp_path):
    db = open_index(tmp_path / "i.sqlite")
    rex = _concept(db, "Rex", "pet")
    rows = [
        BulkPhoto(f"/lib/{i}.jpg", captions=[f"photo {i}"], tags=["sunny"],
                  concept_ids=[rex] if i % 2 else [])
        for i in range(6)
    ]  # fmt: skip
    db.conn.execute("BEGIN")
    first = add_photos(db, rows)
    db.conn.execute("COMMIT")
    assert first == 1
    built = db.execute("SELECT rowid, * FROM photo_fts ORDER BY rowid").fetchall()
    assert built == db.execute("SELECT * FROM search_docs ORDER BY photo_id").fetchall()
    assert built[1][1:3] == ("Rex", "sunny Rex")  # the concept is a tag too
    assert db.execute("SELECT value FROM meta WHERE key = 'search_bulk'").fetchall() == []
    # Triggers are live again after the load.
    db["tags"].insert({"photo_id": 1, "value": "late", "source": "s", "model": "m"})
    assert _doc(db, 1)["tags"] == "sunny late"


def test_the_migration_backfills_tags_documents_and_reindex_jobs(tmp_path):
    db = sqlite_utils.Database(tmp_path / "i.sqlite")
    migrate(db, MIGRATIONS[:6])  # an index from before search
    pid = db["photos"].insert({"path": "/lib/a.jpg", "status": "indexed"}).last_pk
    bob = _concept(db, "Bob")
    db["detections"].insert(
        {"photo_id": pid, "concept_id": bob, "score": 0.7, "head_model": "face-head",
         "concept_version": 3}
    )  # fmt: skip
    db["answers"].insert(
        {"photo_id": pid, "question": "Where?", "answer": "The garden.", "model": "vlm",
         "created_at": 0}
    )  # fmt: skip
    migrate(db)
    tags = [(t.value, t.source, t.model) for t in photo_tags(db, pid)]
    assert tags == [("Bob", "concept", "face-head@v3"), ("garden", "vqa", "vlm")]
    assert _doc(db, pid)["names"] == "Bob" and _doc(db, pid)["text"] == "The garden."
    # Ingest reads camera, lens and GPS again (the photo is unchanged: no model runs).
    assert db.execute("SELECT kind, path, state FROM jobs").fetchall() == [
        ("index", "/lib/a.jpg", "queued")
    ]


def _library(tmp_path) -> sqlite_utils.Database:
    db = open_index(tmp_path / "i.sqlite")
    alice, bob = _concept(db, "Alice"), _concept(db, "Bob")
    rows = [
        BulkPhoto("/lib/a.jpg", "2021-05-01T00:00:00", captions=["Alice on the beach"],
                  concept_ids=[alice], camera="Canon EOS R5"),
        BulkPhoto("/lib/b.jpg", "2022-05-01T00:00:00", captions=["a beach at dusk"],
                  concept_ids=[alice, bob]),
        BulkPhoto("/lib/trip/c.jpg", "2023-05-01T00:00:00", captions=["mountains"],
                  tags=["blurry"], place="Lisbon, Portugal"),
    ]  # fmt: skip
    db.conn.execute("BEGIN")
    add_photos(db, rows)
    db.conn.execute("COMMIT")
    return db


def test_plans_run_as_sql(tmp_path):
    db = _library(tmp_path)
    word = lambda w, neg=False: Condition("word", (w,), neg)  # noqa: E731
    ids = lambda plan: sorted(p for p, _ in ranked(db, plan, 100))  # noqa: E731
    assert ids(Plan([word("beaches")])) == [1, 2]  # stems
    assert ids(Plan([word("beach"), word("alice")])) == [1, 2]  # a name counts as a word
    assert ids(Plan([word("beach"), Condition("concept", ("2", "Bob"), True)])) == [1]
    assert ids(Plan([(word("lisbon"), word("dusk"))])) == [2, 3]  # OR
    assert ids(Plan([word("beach"), (word("dusk", True), Condition("tag", ("x",)))])) == [1]
    assert ids(Plan([Condition("camera", ("eos",))])) == [1]  # a prefix of the model
    # Filters only: newest taken first.
    assert by_date(db, Plan([Condition("after", ("2022",))]), 10, 100) == [3, 2]
    assert by_date(db, Plan([Condition("under", ("/lib/trip/",))]), 10, 100) == [3]
    assert by_date(db, Plan([Condition("folder", ("trip",))]), 10, 100) == [3]
    assert keep(db, Plan([Condition("before", ("2022-06",))]), [1, 2, 3, 99]) == {1, 2}
    face = db["faces"].insert({"photo_id": 3, "x": 0, "y": 0, "w": 1, "h": 1, "model": "f"})
    db["face_clusters"].insert({"face_id": face.last_pk, "cluster_id": 7, "model": "f"})
    assert by_date(db, Plan([Condition("cluster", ("7",))]), 10, 100) == [3]  # unnamed faces


def test_user_text_never_reaches_fts5_as_syntax(tmp_path):
    db = _library(tmp_path)
    for text in ("AND", "NEAR(a b", '"', "{text}: x", "a*b", "^x", "NOT", "-", "beach OR"):
        match, _, _ = compile_plan(Plan([Condition("word", (text,))]))
        assert match is None or match.startswith('"')
        if match is not None:
            ranked(db, Plan([Condition("word", (text,))]), 10)  # no sqlite3.OperationalError
