"""Keywords come from the one tags table: plugin tags, short VQA answers (as configured),
and the concepts found as people, pets and objects rather than as plain tags."""

from __future__ import annotations

from photod.config import MetadataConfig
from photod.index.db import open_index
from photod.index.jobs import Job
from photod.index.photos import save_photo
from photod.index.results import stored_photo
from photod.metadata.source import build
from photod.pipeline.task import Answer, Detection, Face, PhotoInfo, PhotoTask, Tag


def test_keywords_from_the_tags_table(tmp_path):
    db = open_index(tmp_path / "i.sqlite")
    alice = db["concepts"].insert(
        {"name": "Alice", "identifier": "Alice", "kind": "person", "class_word": "woman",
         "created_at": 0, "updated_at": 0}
    ).last_pk  # fmt: skip
    task = PhotoTask(
        job=Job(id=1, kind="index", path="/r/a.jpg"),
        path="/r/a.jpg",  # type: ignore[arg-type]
        info=PhotoInfo("h", 1, 1, 640, 480),
        faces=[Face(box=(0.1, 0.1, 0.2, 0.2), score=0.9, model="f")],
        detections=[Detection(alice, 0.9, "face-head", 2, face_index=0)],
        answers=[Answer("Where?", "A sandy beach.", "vlm"), Answer("Why?", "yes", "vlm"),
                 Answer("What?", "a dog chasing a red ball on grass", "vlm")],
        tags=[Tag("blurry", "sharpness", "photod-sharpness/1")],
    )  # fmt: skip
    photo = stored_photo(db, save_photo(db, task))
    assert photo is not None
    assert [(t.value, t.source, t.model) for t in photo.tags] == [
        ("blurry", "sharpness", "photod-sharpness/1"),
        ("Alice", "concept", "face-head@v2"),
        ("sandy beach", "vqa", "vlm"),
    ]
    meta = build(photo, MetadataConfig())
    assert meta.keywords == ["Alice", "blurry", "sandy beach"]
    assert ("Tags", "Alice") not in meta.hierarchy and ("People", "Alice") in meta.hierarchy
    assert build(photo, MetadataConfig(answer_tags=False)).keywords == ["Alice", "blurry"]
    assert build(photo, MetadataConfig(max_tag_words=1)).keywords == ["Alice", "blurry"]
