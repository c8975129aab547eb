"""The person head with the real dlib models: learned from augmented crops of one person,
it names new variants of that person, never the other person, and the right face in a photo
with both."""

from __future__ import annotations

import pytest
from concept_fixtures import composite, detections, face_variant, index_photos, save

from photod.index import concepts as store
from photod.index.concepts import ConceptError


def _person(app, name, paths, face_boxes=None):
    def add(db):
        c = store.add_concept(db, name, kind="person", class_word="woman")
        for i, p in enumerate(paths):
            box = face_boxes[i] if face_boxes else None
            store.add_example(db, c.id, p, face_box=box)
        return c.id

    return app.index.write(add)


@pytest.fixture
def trained(concept_app, tmp_path):
    """'Eileen' learned from 4 augmented crops of astronaut(); the app and its trainer."""
    examples = [save(face_variant("astronaut", s), tmp_path / f"ex/a{s}.jpg") for s in range(4)]
    cid = _person(concept_app, "Eileen", examples)
    trainer = concept_app.trainer
    outcome = trainer.train(cid)
    return concept_app, trainer, cid, outcome


def test_recognises_new_variants_not_the_other_person(trained, tmp_path):
    app, _, _, outcome = trained
    assert outcome.version == 1 and outcome.metrics["keys"] == 4
    assert outcome.metrics["leave_one_out_recall"] == 1.0
    lib = tmp_path / "photos"
    same = [save(face_variant("astronaut", s), lib / f"a{s}.jpg") for s in range(10, 14)]
    other = [save(face_variant("camera", s), lib / f"c{s}.jpg") for s in range(10, 14)]
    both = save(composite(20), lib / "both.jpg")
    index_photos(app, [*same, *other, both])
    for p in same:
        [(name, _, version, head_model)] = detections(app, p)
        assert name == "Eileen" and version == 1 and head_model == "face-keys:dlib-resnet-v1"
    for p in other:
        assert detections(app, p) == []
        faces = (
            app.index.reader()
            .execute(
                "SELECT count(*) FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.path = ?",
                (p,),
            )
            .fetchone()[0]
        )
        assert faces == 1  # the face is there (for clustering), it just is not Eileen
    [(name, face_x, _, _)] = detections(app, both)
    assert name == "Eileen" and face_x > 0.5  # the astronaut is on the right half


def test_two_people_in_one_photo_each_get_their_face(trained, tmp_path):
    app, trainer, _, _ = trained
    cams = [save(face_variant("camera", s), tmp_path / f"ex/c{s}.jpg") for s in range(3)]
    trainer.train(_person(app, "Bob", cams))
    both = save(composite(30), tmp_path / "photos/both.jpg")
    index_photos(app, [both])
    rows = detections(app, both)
    assert [r[0] for r in rows] == ["Bob", "Eileen"]
    assert rows[0][1] < 0.5 < rows[1][1]


def test_example_with_several_faces_uses_the_matching_one(trained, tmp_path):
    app, trainer, cid, _ = trained
    both = save(composite(40), tmp_path / "ex/both.jpg")
    app.index.write(lambda db: store.add_example(db, cid, both))
    outcome = trainer.train(cid)
    assert outcome.version == 2 and outcome.metrics["keys"] == 5
    assert outcome.metrics["refused"] == {}


def test_ambiguous_example_is_refused_with_a_clear_message(concept_app, tmp_path):
    both = save(composite(50), tmp_path / "ex/both.jpg")
    cid = _person(concept_app, "Nobody", [both])
    trainer = concept_app.trainer
    with pytest.raises(ConceptError, match=r"2 faces .*--face x,y,w,h"):
        trainer.train(cid)
    assert store.get_concept(concept_app.index.reader(), cid).version == 0


def test_pointed_face_is_used(concept_app, tmp_path):
    both = save(composite(60), tmp_path / "ex/both.jpg")
    # The user points at the left face: the cameraman.
    cid = _person(concept_app, "Cam", [both], face_boxes=[(0.0, 0.0, 0.5, 1.0)])
    concept_app.trainer.train(cid)
    cam = save(face_variant("camera", 61), tmp_path / "photos/cam.jpg")
    eileen = save(face_variant("astronaut", 61), tmp_path / "photos/eileen.jpg")
    index_photos(concept_app, [cam, eileen])
    assert [r[0] for r in detections(concept_app, cam)] == ["Cam"]
    assert detections(concept_app, eileen) == []
