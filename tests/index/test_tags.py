"""Tags and detection boxes: stored in the photo's commit, replaced on re-run, searchable."""

from __future__ import annotations

import time

import sqlite_utils

from photod.index.db import open_index
from photod.index.jobs import Job
from photod.index.migrations import MIGRATIONS, migrate
from photod.index.photos import save_photo
from photod.index.results import Found, stored_photo
from photod.index.tags import StoredTag, photo_tags
from photod.pipeline.task import Detection, Face, PhotoInfo, PhotoTask, Tag
from tests.search_helpers import fields, search


def _concept(db, name: str, kind: str) -> int:
    now = time.time()
    return db["concepts"].insert({"name": name, "identifier": f"<{name}>", "kind": kind,
        "class_word": "thing", "created_at": now, "updated_at": now}).last_pk  # fmt: skip


def _task(path: str, mtime: int, **results) -> PhotoTask:
    info = PhotoInfo("hash-" + path, 100, mtime, 640, 480, 1, "JPEG")
    return PhotoTask(job=Job(id=1, kind="index", path=path), path=path, info=info, **results)  # type: ignore[arg-type]


def test_tags_are_stored_replaced_and_found_by_search(tmp_path):
    db = open_index(tmp_path / "i.sqlite")
    blurry = Tag("blurry", source="sharpness", model="photod-sharpness/1", score=12.5)
    task = _task("/r/a.jpg", 1, tags=[blurry, blurry])  # given twice: stored once
    photo_id = save_photo(db, task)
    assert photo_tags(db, photo_id) == [
        StoredTag("blurry", "sharpness", "photod-sharpness/1", 12.5)
    ]
    hits = search(db, "blur*")
    assert [(h.path, fields(h)) for h in hits] == [("/r/a.jpg", ["tag", "snippet"])]

    # A re-run that no longer finds the photo blurry leaves no tag, in the table or the FTS.
    save_photo(db, _task("/r/a.jpg", 2))
    assert photo_tags(db, photo_id) == []
    assert search(db, "blurry") == []

    save_photo(db, _task("/r/a.jpg", 3, tags=[blurry]))
    db.execute("DELETE FROM photos WHERE id = ?", (photo_id,))  # the purge of a gone photo
    assert search(db, "blurry") == []
    assert db.execute("SELECT count(*) FROM tags").fetchone()[0] == 0


def test_detection_boxes_are_stored_and_read_back(tmp_path):
    db = open_index(tmp_path / "i.sqlite")
    alice, rex = _concept(db, "Alice", "person"), _concept(db, "Rex", "pet")
    face = (0.3, 0.1, 0.2, 0.25)
    task = _task(
        "/r/a.jpg",
        1,
        faces=[Face(box=face, score=0.9, model="f")],
        detections=[
            # A person's detection carries its face's box, whatever box the head gave.
            Detection(alice, 0.9, "face-head", 1, face_index=0, box=(0, 0, 1, 1)),
            Detection(rex, 0.8, "clip-head", 1, box=(0.05, 0.6, 0.2, 0.25)),
            Detection(rex, 0.7, "other-head", 1),  # no box at all
            Detection(rex, 0.6, "clip-head", 1, box=(0.5, 0.5, 0.1, 0.1), box_source="vlm"),
        ],
    )
    photo = stored_photo(db, save_photo(db, task))
    assert photo is not None and (photo.width, photo.height, photo.orientation) == (640, 480, 1)
    assert photo.found == [
        Found("Alice", "person", face),
        Found("Rex", "pet", (0.05, 0.6, 0.2, 0.25), "head"),  # a box with no source: the head's
        Found("Rex", "pet", None),
        Found("Rex", "pet", (0.5, 0.5, 0.1, 0.1), "vlm"),
    ]
    assert stored_photo(db, 999) is None


def test_old_sharpness_answers_become_tags(tmp_path):
    db = sqlite_utils.Database(tmp_path / "i.sqlite")
    migrate(db, MIGRATIONS[:3])  # an index from before the tags table
    photo_id = db["photos"].insert({"path": "/r/a.jpg", "status": "indexed"}).last_pk
    db["answers"].insert_all([
        {"photo_id": photo_id, "question": "Is the photo blurry?", "answer": "yes, blurry (15)",
         "model": "photod-sharpness/1", "created_at": 0},
        {"photo_id": photo_id, "question": "Where?", "answer": "a beach", "model": "vlm",
         "created_at": 0},
    ])  # fmt: skip
    migrate(db)
    assert photo_tags(db, photo_id) == [
        StoredTag("blurry", "sharpness", "photod-sharpness/1", 15),
        StoredTag("beach", "vqa", "vlm", None),  # the search migration tags short answers
    ]
    assert [a for (a,) in db.execute("SELECT answer FROM answers")] == ["a beach"]
    assert [fields(h) for h in search(db, "blurry")] == [["tag", "snippet"]]


def test_boxes_stored_before_their_source_was_recorded_are_the_heads(tmp_path):
    db = sqlite_utils.Database(tmp_path / "i.sqlite")
    names = [name for name, _ in MIGRATIONS]
    migrate(db, MIGRATIONS[: names.index("0009_rec_box_source")])
    photo_id = db["photos"].insert({"path": "/r/a.jpg", "status": "indexed"}).last_pk
    rex = _concept(db, "Rex", "pet")
    db["detections"].insert_all([
        {"photo_id": photo_id, "concept_id": rex, "score": 0.8, "head_model": "h",
         "concept_version": 1, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2},
        {"photo_id": photo_id, "concept_id": rex, "score": 0.7, "head_model": "h",
         "concept_version": 1},
    ])  # fmt: skip
    migrate(db)
    assert [r[0] for r in db.execute("SELECT box_source FROM detections ORDER BY id")] == [
        "head",
        None,
    ]
