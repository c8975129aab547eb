"""The scene generator: deterministic, unambiguous captions, consistent questions."""

from __future__ import annotations

import numpy as np

from photod_lab.toyworld.concepts import base_scene_generator
from photod_lab.toyworld.render import Decoration
from photod_lab.toyworld.scenes import NAMES, SceneGenerator, describe


def test_same_seed_same_scenes_and_pixels() -> None:
    a = SceneGenerator(11).batch(20)
    b = SceneGenerator(11).batch(20)
    assert [s.caption() for s in a] == [s.caption() for s in b]
    assert [s.qa for s in a] == [s.qa for s in b]
    for x, y in zip(a[:5], b[:5], strict=False):
        assert np.array_equal(np.asarray(x.image()), np.asarray(y.image()))


def test_other_seed_differs() -> None:
    a = [s.caption() for s in SceneGenerator(1).batch(30)]
    b = [s.caption() for s in SceneGenerator(2).batch(30)]
    assert a != b


def test_relations_match_geometry() -> None:
    for s in SceneGenerator(3).batch(300):
        objs = s.objects
        assert len({o.spec.shape for o in objs}) == len(objs)
        xs = [o.spec.cx for o in objs]
        ys = [o.spec.cy for o in objs]
        if s.layout == "row":
            assert xs == sorted(xs) and " left of " in s.caption()
            for a, b in zip(objs, objs[1:], strict=False):
                gap = b.spec.cx - a.spec.cx
                assert gap >= a.spec.size + b.spec.size
                assert abs(b.spec.cy - a.spec.cy) <= 0.5 * gap
        elif s.layout == "column":
            assert ys == sorted(ys) and " above " in s.caption()
        else:
            assert len(objs) == 1


def test_named_objects_and_answers() -> None:
    scenes = SceneGenerator(5).batch(400)
    names = set(NAMES.values())
    named = [o for s in scenes for o in s.objects if o.phrase in names]
    assert named, "the base data must contain named objects"
    for o in named:
        assert NAMES[(o.spec.shape, o.spec.colour)] == o.phrase
        assert [d.kind for d in o.spec.decorations] == ["outline"]
    # Exactly the named objects are outlined.
    assert all(o.outlined == (o.phrase in names) for s in scenes for o in s.objects)
    for s in scenes:
        qa = dict(s.qa)
        for o in s.objects:
            assert qa[f"what color is the {o.spec.shape} ?"] == o.spec.colour
        if s.layout == "column":
            assert qa[f"where is the {s.objects[0].spec.shape} ?"] == "top"


def test_image_size() -> None:
    s = SceneGenerator(0, image_size=96).sample()
    assert s.image().size == (96, 96)


def test_base_data_decorates_some_objects_and_captions_ignore_it() -> None:
    scenes = base_scene_generator(4).batch(300)
    objects = [o for s in scenes for o in s.objects]
    decorated = [o for o in objects if o.spec.decorations and o.phrase not in NAMES.values()]
    # About 30% of unnamed objects carry one decoration; the caption still says what it is.
    assert 0.2 < len(decorated) / len(objects) < 0.4
    assert {d.kind for o in decorated for d in o.spec.decorations} >= {"dot", "stripes", "hat"}
    for o in decorated:
        (deco,) = o.spec.decorations
        assert deco.kind != "outline" and deco.colour != o.spec.colour
        if deco.kind in ("stripes", "checker"):  # half the object: neutral, never a colour
            assert deco.colour in ("white", "black")
        assert o.phrase == describe(o.spec.shape, o.spec.colour)


def test_avoided_looks_are_never_drawn() -> None:
    avoid = frozenset(
        (shape, colour, Decoration(kind, deco))
        for shape in ("circle", "square")
        for colour in ("red", "blue")
        for kind in ("dot", "ring")
        for deco in ("white", "black", "yellow")
    )
    gen = SceneGenerator(6, decorated_prob=1.0, avoid=avoid)
    objects = [o for s in gen.batch(300) for o in s.objects]
    drawn = {(o.spec.shape, o.spec.colour, d) for o in objects for d in o.spec.decorations}
    assert drawn and not drawn & avoid


def test_decorations_off_leaves_the_stream_unchanged() -> None:
    # The eval datasets and the CLIP data are drawn with decorations off: same scenes as ever.
    a = SceneGenerator(8).batch(30)
    b = SceneGenerator(8, decorated_prob=0.0, avoid=frozenset()).batch(30)
    assert [s.caption() for s in a] == [s.caption() for s in b]
    assert not any(
        o.spec.decorations and o.phrase not in NAMES.values() for s in a for o in s.objects
    )
