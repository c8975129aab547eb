"""Grounding targets of the toy world: boxes from the renderer, answers on the 0-100 grid,
absent objects answered "none", and the boxes the dataset writer records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from photod.vlm.boxes import parse_box
from photod_lab.toyworld.concepts import toy_concepts
from photod_lab.toyworld.dataset import write_toy_dataset
from photod_lab.toyworld.grounding import (
    ABSENT,
    box_answer,
    name_absent,
    object_box,
    pick_grounds,
)
from photod_lab.toyworld.naming import Naming
from photod_lab.toyworld.scenes import SceneGenerator


def test_box_answers_parse_back_to_the_objects_box() -> None:
    for scene in SceneGenerator(3, decorated_prob=0.3).batch(40):
        for o in scene.objects:
            box = object_box(o.spec, scene.image_size)
            x, y, w, h = box
            # The box holds the object's pixels: its centre, inside the image.
            assert 0 <= x < x + w <= 1 and 0 <= y < y + h <= 1
            assert x < o.spec.cx / 64 < x + w and y < o.spec.cy / 64 < y + h
            px, py, pw, ph = parse_box(box_answer(box)).box
            # Each corner rounded to the grid (multiples of 0.1).
            assert (px, py, px + pw, py + ph) == pytest.approx(
                (x, y, x + w, y + h), abs=0.05 + 1e-9
            )


def test_grounding_picks_and_absent_objects() -> None:
    scenes = SceneGenerator(5, decorated_prob=0.3).batch(300)
    rng = np.random.default_rng(0)
    picks = pick_grounds(scenes, rng, share=1.0, absent_share=0.3)
    absent = [p for p in picks if p.absent is not None]
    assert 0.2 < len(absent) / len(picks) < 0.4
    for scene, pick in zip(scenes, picks, strict=True):
        if pick.absent is None:
            assert pick.answer.startswith("{") and parse_box(pick.answer).box is not None
            continue
        assert pick.answer == ABSENT
        spec = pick.absent.spec
        # Never an object of the scene: another shape, colour or decoration.
        assert all(
            (o.spec.shape, o.spec.colour, o.spec.decorations)
            != (spec.shape, spec.colour, spec.decorations)
            for o in scene.objects
        )
        named_scene, naming = name_absent(scene, Naming(), pick, rng)
        if pick.named:  # only a token can ask about a present shape's other look
            assert naming.objects == (len(scene.objects),)
            assert named_scene.objects[-1] is pick.absent
    assert pick_grounds(scenes, rng, share=0.0, absent_share=0.3) == [None] * len(scenes)


def test_the_dataset_records_each_concepts_box(tmp_path) -> None:
    keep = [
        c for c in toy_concepts() if c.key in ("dotted_star", "ringed_circle", "checked_square")
    ]
    root = write_toy_dataset(tmp_path / "d", per_concept=3, negatives=2, multi=2, concepts=keep)
    boxes = json.loads((root / "dotted_star" / "boxes.json").read_text())
    assert set(boxes) == {"000.png", "001.png", "002.png"}
    assert all(list(found) == ["dotted_star"] for found in boxes.values())
    multi = json.loads((root / "_multi" / "boxes.json").read_text())
    scenes = json.loads((root / "_multi" / "scenes.json").read_text())
    assert {n: sorted(b) for n, b in multi.items()} == {
        n: sorted(s["concepts"]) for n, s in scenes.items()
    }
