"""The person head with the real dlib models: learned from augmented crops of one person,
it names new variants of that person, never the other person, and the right face in a photo
with both."""

from __future__ import annotations

import pytest
from concept_fixtures import composite, detections, face_variant, index_photos, save

from photod.concepts.training import Trainer
from photod.index import concepts as store
from photod.index.concepts import ConceptError
from photod.stages.heads import HeadsStage


def _person(services, name, paths, face_boxes=None):
    def add(db):
        c = store.add_concept(db, name, kind="person", class_word="woman")
        for i, p in enumerate(paths):
            box = face_boxes[i] if face_boxes else None
            store.add_example(db, c.id, p, face_box=box)
        return c.id

    return services.index.write(add)


@pytest.fixture
def trained(concept_services, tmp_path):
    """'Eileen' learned from 4 augmented crops of astronaut(); the heads stage and trainer."""
    examples = [save(face_variant("astronaut", s), tmp_path / f"ex/a{s}.jpg") for s in range(4)]
    cid = _person(concept_services, "Eileen", examples)
    stage = HeadsStage.create(concept_services)
    trainer = Trainer(concept_services, stage.features, stage.heads_by_name)
    outcome = trainer.train(cid)
    return concept_services, stage, trainer, cid, outcome


def test_recognises_new_variants_not_the_other_person(trained, tmp_path):
    services, stage, _, _, outcome = trained
    assert outcome.version == 1 and outcome.metrics["keys"] == 4
    assert outcome.metrics["leave_one_out_recall"] == 1.0
    lib = tmp_path / "photos"
    same = [save(face_variant("astronaut", s), lib / f"a{s}.jpg") for s in range(10, 14)]
    other = [save(face_variant("camera", s), lib / f"c{s}.jpg") for s in range(10, 14)]
    both = save(composite(20), lib / "both.jpg")
    index_photos(services, [*same, *other, both])
    for p in same:
        [(name, _, version, head_model)] = detections(services, p)
        assert name == "Eileen" and version == 1 and head_model == "face-keys:dlib-resnet-v1"
    for p in other:
        assert detections(services, p) == []
        faces = (
            services.index.reader()
            .execute(
                "SELECT count(*) FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.path = ?",
                (p,),
            )
            .fetchone()[0]
        )
        assert faces == 1  # the face is there (for clustering), it just is not Eileen
    [(name, face_x, _, _)] = detections(services, both)
    assert name == "Eileen" and face_x > 0.5  # the astronaut is on the right half


def test_two_people_in_one_photo_each_get_their_face(trained, tmp_path):
    services, stage, trainer, _, _ = trained
    cams = [save(face_variant("camera", s), tmp_path / f"ex/c{s}.jpg") for s in range(3)]
    trainer.train(_person(services, "Bob", cams))
    both = save(composite(30), tmp_path / "photos/both.jpg")
    index_photos(services, [both])
    rows = detections(services, both)
    assert [r[0] for r in rows] == ["Bob", "Eileen"]
    assert rows[0][1] < 0.5 < rows[1][1]


def test_example_with_several_faces_uses_the_matching_one(trained, tmp_path):
    services, stage, trainer, cid, _ = trained
    both = save(composite(40), tmp_path / "ex/both.jpg")
    services.index.write(lambda db: store.add_example(db, cid, both))
    outcome = trainer.train(cid)
    assert outcome.version == 2 and outcome.metrics["keys"] == 5
    assert outcome.metrics["refused"] == {}


def test_ambiguous_example_is_refused_with_a_clear_message(concept_services, tmp_path):
    both = save(composite(50), tmp_path / "ex/both.jpg")
    cid = _person(concept_services, "Nobody", [both])
    stage = HeadsStage.create(concept_services)
    trainer = Trainer(concept_services, stage.features, stage.heads_by_name)
    with pytest.raises(ConceptError, match=r"2 faces .*--face x,y,w,h"):
        trainer.train(cid)
    assert store.get_concept(concept_services.index.reader(), cid).version == 0


def test_pointed_face_is_used(concept_services, tmp_path):
    both = save(composite(60), tmp_path / "ex/both.jpg")
    # The user points at the left face: the cameraman.
    cid = _person(concept_services, "Cam", [both], face_boxes=[(0.0, 0.0, 0.5, 1.0)])
    stage = HeadsStage.create(concept_services)
    Trainer(concept_services, stage.features, stage.heads_by_name).train(cid)
    cam = save(face_variant("camera", 61), tmp_path / "photos/cam.jpg")
    eileen = save(face_variant("astronaut", 61), tmp_path / "photos/eileen.jpg")
    index_photos(concept_services, [cam, eileen])
    assert [r[0] for r in detections(concept_services, cam)] == ["Cam"]
    assert detections(concept_services, eileen) == []
