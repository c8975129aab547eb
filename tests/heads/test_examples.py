"""Choosing the face of each person example when photos hold several faces."""

from __future__ import annotations

import numpy as np

from photod.heads.examples import choose_faces
from photod.index.concepts import Example
from photod.pipeline.task import Face

# Unit-length face embeddings of four people (L2 between two people: ~1.41 > 0.6).
EILEEN, BOB, CAROL, DAN = np.eye(4, dtype=np.float32)


def _face(who: np.ndarray, x: float, jitter: float = 0.05) -> Face:
    emb = who + jitter * np.roll(who, 1)  # the same person, a slightly different photo
    return Face(box=(x, 0.1, 0.2, 0.3), score=1.0, model="test", embedding=emb)


def _choose(photos: dict[str, list[Face]]):
    examples = [Example(i, 1, path, None, "cli") for i, path in enumerate(photos)]
    return choose_faces(examples, photos.__getitem__, "l2", 0.6)


def test_the_face_recurring_in_every_example_is_chosen() -> None:
    photos = {
        "a.jpg": [_face(BOB, 0.1), _face(EILEEN, 0.6)],
        "b.jpg": [_face(EILEEN, 0.2, 0.1), _face(CAROL, 0.7)],
        "c.jpg": [_face(DAN, 0.0), _face(CAROL, 0.3), _face(EILEEN, 0.8, 0.0)],
    }
    chosen, refused = _choose(photos)
    assert refused == {}
    assert {p: f.box[0] for p, f in chosen.items()} == {"a.jpg": 0.6, "b.jpg": 0.2, "c.jpg": 0.8}


def test_two_people_in_every_example_are_refused_with_the_fix() -> None:
    photos = {
        "a.jpg": [_face(BOB, 0.1), _face(EILEEN, 0.6)],
        "b.jpg": [_face(EILEEN, 0.2), _face(BOB, 0.7)],
    }
    chosen, refused = _choose(photos)
    assert chosen == {}
    assert set(refused) == {"a.jpg", "b.jpg"}
    assert "--face 0.10,0.10,0.20,0.30" in refused["a.jpg"]
