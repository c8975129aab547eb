"""Choosing the face of each person example.

An example with one face uses it; one where the user pointed at a face (``face_box``) uses the
face overlapping that box; one with several faces uses the single face that matches the
person's other (unambiguous) examples or, when every example has several faces, the single
face of each that recurs in all the others (the one person they have in common). Anything else
is refused with a message that says how to fix it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

import numpy as np

from photod.faces.base import distances, iou
from photod.index.concepts import Example
from photod.pipeline.task import Face

MIN_IOU = 0.3


def _inside(face: Face, box: tuple[float, float, float, float]) -> bool:
    cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
    return box[0] <= cx <= box[0] + box[2] and box[1] <= cy <= box[1] + box[3]


def _pointed(ex: Example, faces: list[Face]) -> tuple[Face | None, str]:
    # A rough box around the face is enough: its centre must lie inside, or it must overlap.
    box = ex.face_box
    assert box is not None
    inside = [f for f in faces if _inside(f, box)]
    if len(inside) > 1:
        return None, f"{ex.path}: {len(inside)} faces in the box you gave ({box}); draw it tighter."
    best = inside[0] if inside else max(faces, key=lambda f: iou(f.box, box), default=None)
    if best is None or (not inside and iou(best.box, box) < MIN_IOU):
        return None, f"{ex.path}: no face at the box you gave ({box})."
    return best, ""


def choose_faces(
    examples: list[Example],
    faces_of: Callable[[str], list[Face]],
    metric: str,
    threshold: float,
    command: str = "photod concept examples add NAME",
) -> tuple[dict[str, Face], dict[str, str]]:
    """Return (face per example path, refusal message per example path).

    ``command``: the command that takes ``PATH --face x,y,w,h`` to fix a refusal (the
    refusal names it with the faces found, ready to copy).
    """
    chosen: dict[str, Face] = {}
    refused: dict[str, str] = {}
    crowded: list[tuple[Example, list[Face]]] = []
    for ex in examples:
        try:
            faces = [f for f in faces_of(ex.path) if f.embedding is not None]
        except Exception as exc:  # an unreadable example must not sink the others
            refused[ex.path] = f"{ex.path}: cannot read it ({exc})."
            continue
        if ex.face_box is not None:
            face, why = _pointed(ex, faces)
            if face is None:
                refused[ex.path] = why
            else:
                chosen[ex.path] = face
        elif len(faces) == 1:
            chosen[ex.path] = faces[0]
        elif not faces:
            refused[ex.path] = f"{ex.path}: no face found."
        else:
            crowded.append((ex, faces))
    if not chosen:
        chosen.update(_recurring(crowded, metric, threshold))
    anchors = np.stack([f.embedding for f in chosen.values()]) if chosen else None
    for ex, faces in crowded:
        if ex.path in chosen:
            continue
        boxes = [",".join(f"{v:.2f}" for v in f.box) for f in faces]
        hint = (
            f"say which face with --face x,y,w,h (fractions; faces at {'; '.join(boxes)}), "
            f"e.g. `{command} {shlex.quote(ex.path)} --face {boxes[0]}`"
        )
        if anchors is None:
            refused[ex.path] = (
                f"{ex.path}: {len(faces)} faces and no single-face example to tell which one "
                f"is this person; {hint}."
            )
            continue
        d = distances(metric, np.stack([f.embedding for f in faces]), anchors).min(axis=1)
        matching = np.nonzero(d <= threshold)[0]
        if len(matching) == 1:
            chosen[ex.path] = faces[int(matching[0])]
        else:
            what = "none matches" if not len(matching) else f"{len(matching)} match"
            refused[ex.path] = (
                f"{ex.path}: {len(faces)} faces and {what} the person's other examples; {hint}."
            )
    return chosen, refused


def _recurring(
    crowded: list[tuple[Example, list[Face]]], metric: str, threshold: float
) -> dict[str, Face]:
    """For examples that all have several faces: in each, the single face that matches a face
    of every other example (nothing when any example has none or several such faces)."""
    if len(crowded) < 2:
        return {}
    picked: dict[str, Face] = {}
    for i, (ex, faces) in enumerate(crowded):
        mine = np.stack([f.embedding for f in faces])
        everywhere = np.ones(len(faces), bool)
        for j, (_, others) in enumerate(crowded):
            if j != i:
                d = distances(metric, mine, np.stack([f.embedding for f in others]))
                everywhere &= d.min(axis=1) <= threshold
        if everywhere.sum() != 1:
            return {}
        picked[ex.path] = faces[int(np.argmax(everywhere))]
    return picked
