"""The patch-prototype object head (``heads.object.backbone: dinov2``) on real rendered toy
photos with the toy world's feature model (lab fixture ``toy-features``, a tiny DINOv2):
it tells the dotted star (a yellow star with purple tips and a black dot) from plain yellow
stars, says where the star is, and the box reaches the index.

The concept's own other photos are in the library when it is trained, unlabelled, as in a
user's library.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from concept_fixtures import builtin_registry, index_photos, make_config, save

from photod.app import build_app
from photod.index import concepts as store
from photod_lab.toyworld.concepts import concept_scene, toy_concepts
from photod_lab.toyworld.fixture import fixture_dir
from photod_lab.toyworld.scenes import SceneGenerator, describe

STAR = {c.key: c for c in toy_concepts()}["dotted_star"]
#: The look-alike: the same shape and colour, no decorations.
PLAIN = ("star", "yellow", (), describe("star", "yellow"), None)


def _scenes(rng, items, n):
    from photod_lab.toyworld.scenes import ordinary_items, scene_from_items

    out = []
    for _ in range(n):
        others = ordinary_items(rng, int(rng.integers(0, 3)), 0.0, exclude_shapes=("star",))
        out.append(scene_from_items(rng, [*items, *others], 64))
    return out


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """The app, the trained concept, and the new photos indexed after training."""
    tmp = tmp_path_factory.mktemp("instance")
    features = fixture_dir("toy-features")
    cfg = make_config(
        tmp,
        f"heads:\n  object:\n    backbone: dinov2\n    feature_model: local-dir:{features}\n",
        clip_dir=fixture_dir("toy-clip"),
    )
    rng = np.random.default_rng(3)
    lib = tmp / "photos"
    # Mostly other things, as in a library: the concept and its look-alikes are a tenth of it.
    library = [s.image() for s in SceneGenerator(11).batch(80)]
    library += [s.image() for s in _scenes(rng, [PLAIN], 6)]  # look-alikes
    library += [concept_scene(rng, [STAR], 1).image() for _ in range(4)]  # its own, unlabelled
    paths = [save(im, lib / f"lib{i}.png") for i, im in enumerate(library)]
    with build_app(cfg, plugins=builtin_registry()) as app:
        stages = index_photos(app, paths)
        examples = [
            save(concept_scene(rng, [STAR], int(rng.integers(0, 3))).image(), tmp / f"ex/{i}.png")
            for i in range(4)
        ]

        def add(db):
            c = store.add_concept(db, "bob", kind="object", class_word="star")
            for p in examples:
                store.add_example(db, c.id, p)
            return c.id

        cid = app.index.write(add)
        outcome = app.trainer.train(cid)
        stars = [concept_scene(rng, [STAR], int(rng.integers(0, 3))) for _ in range(6)]
        plains = _scenes(rng, [PLAIN], 6)
        new = {save(s.image(), lib / f"star{i}.png"): s for i, s in enumerate(stars)}
        new |= {save(s.image(), lib / f"plain{i}.png"): s for i, s in enumerate(plains)}
        index_photos(app, list(new), stages=stages)
        yield app, outcome, new


def _found(app, path):
    return (
        app.index.reader()
        .execute(
            "SELECT d.score, d.x, d.y, d.w, d.h, d.head_model FROM detections d "
            "JOIN photos p ON p.id = d.photo_id WHERE p.path = ?",
            (path,),
        )
        .fetchall()
    )


def test_trains_prototypes_with_a_calibrated_threshold(taught):
    _, outcome, _ = taught
    m = outcome.metrics
    assert m["prototypes"] == 3 * 4 and m["negatives"] >= 8 and m["recall"] == 1.0
    assert 0 < m["threshold"] < 1 and m["seconds"] < 30


def test_tells_the_concept_from_its_look_alike(taught):
    app, _, new = taught
    stars = [p for p in new if "/star" in p]
    plains = [p for p in new if "/plain" in p]
    # The head finds about 83% of a concept's photos on the toy world's tuning draw
    # (bench/instance_heads.py): 4 of these 6 at least, and never its look-alike.
    assert sum(bool(_found(app, p)) for p in stars) >= 4
    assert not [p for p in plains if _found(app, p)]


def test_the_box_lands_on_the_concept_and_reaches_the_index(taught):
    app, _, new = taught
    hits = [(p, s) for p, s in new.items() if "/star" in p and _found(app, p)]
    on_star = 0
    for path, scene in hits:
        [(_, x, y, w, h, head_model)] = _found(app, path)
        assert head_model.startswith("prototypes:patches:local-dir:")
        assert 0 <= x < x + w <= 1 and 0 <= y < y + h <= 1 and w * h <= 0.5  # a region
        star = next(o.spec for o in scene.objects if o.concept == STAR.key)
        cx, cy = star.cx / 64, star.cy / 64
        on_star += x <= cx <= x + w and y <= cy <= y + h
    assert on_star >= len(hits) - 1 >= 4  # on the star, not on another object


def test_one_photo_calibrates_on_its_mirror_image(taught):
    """With a single example there is nothing to hold out: the threshold comes from the
    example's mirror image, so the concept can fire at all (without
    them it kept 1, which no other photo reaches) and still not on look-alikes."""
    app, _, _ = taught
    # Alone in the photo: with one example the head cannot tell which of two objects is meant.
    scene = concept_scene(np.random.default_rng(9), [STAR], 0)
    one = save(scene.image(), app.config.paths.data_dir.parent / "one.png")

    def add(db):
        c = store.add_concept(db, "solo", kind="object", class_word="star")
        store.add_example(db, c.id, one)
        return c.id

    outcome = app.trainer.train(app.index.write(add))
    m = outcome.metrics
    assert m["examples"] == 1 and "recall" not in m  # the mirror image is no held-out metric
    assert m["threshold"] < 0.97
    # outcome.rerun: the indexed photos the new version fires on (it had no version before).
    assert [p for p in outcome.rerun if "/star" in p]
    assert not [p for p in outcome.rerun if "/plain" in p]


def test_a_version_calibrated_under_another_scoring_rule_is_not_loaded(taught, caplog):
    """A threshold means nothing under another scoring rule: versions trained before the
    coverage score (no ``scoring`` in their meta) are left out with a request to retrain."""
    app, _, _ = taught
    head = next(h for h in app.heads if h.name == "object")
    good = list(head.concepts)
    assert good
    stale = [replace(lc, meta={k: v for k, v in lc.meta.items() if k != "scoring"}) for lc in good]
    try:
        head.load(stale)
        assert head.concepts == [] and "retrain it" in caplog.text
    finally:
        head.load(good)
    assert head.concepts == good


def test_a_declined_version_is_queued_for_retraining_when_photod_starts(taught):
    """A version an older photod wrote (no ``scoring`` in its meta) is not loaded; the next
    photod started on the same data queues its retraining instead of never firing."""
    app, outcome, _ = taught
    meta_path = app.catalog.version_dir(outcome.concept_id, outcome.version) / "meta.json"
    original = meta_path.read_text()
    meta = json.loads(original)
    del meta["scoring"]
    meta_path.write_text(json.dumps(meta))
    try:
        with build_app(app.config, plugins=builtin_registry()) as restarted:
            [stage] = [s for s in restarted.stages if s.name == "heads"]
            stage.refresh()
            jobs = (
                restarted.index.reader()
                .execute("SELECT concept_id, state FROM training_jobs")
                .fetchall()
            )
        assert (outcome.concept_id, "queued") in [tuple(j) for j in jobs]
    finally:
        meta_path.write_text(original)
