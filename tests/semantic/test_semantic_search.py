"""Semantic search for real: toy-world scenes the toy CLIP never saw are rendered as photos,
indexed through photod's pipeline with that CLIP configured, and found by their description.

The toy CLIP (lab fixture) was trained contrastively on toy scene descriptions; its threshold
here is the one calibrated on the toy world's tuning draw (seed 101: 99.6% of matching
description/photo pairs at or above 0.80), checked on another draw (seed 202: 99.2%).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from concept_fixtures import builtin_registry, index_photos, make_config

from photod.app import App, build_app
from photod.config import ClipConfig
from photod.index import Index
from photod.search.semantic import ClipRanker
from photod_lab.toyworld.fixture import fixture_dir
from photod_lab.toyworld.scenes import SceneGenerator

TOY_THRESHOLD = 0.80
#: Held out from the toy CLIP's training and from the threshold's tuning draw.
CHECK_SEED = 202


@pytest.fixture
def library(tmp_path: Path):
    """Twelve held-out scenes with distinct descriptions, indexed; yields (app, photos)."""
    config = make_config(
        tmp_path, f"  search_threshold: {TOY_THRESHOLD}\n", clip_dir=fixture_dir("toy-clip")
    )
    scenes, seen = [], set()
    for scene in SceneGenerator(CHECK_SEED).batch(40):
        if scene.caption() not in seen and len(scenes) < 12:
            seen.add(scene.caption())
            scenes.append(scene)
    photos = {}
    for i, scene in enumerate(scenes):
        path = config.library.roots[0] / f"scene-{i:02}.png"
        scene.image().save(path)
        photos[scene.caption()] = str(path)
    with build_app(config, plugins=builtin_registry()) as app:
        index_photos(app, list(photos.values()))
        yield app, photos


def _ranker(app: App) -> ClipRanker:
    ranker = ClipRanker.create(app.config.clip, app.index, app.features.clip)
    assert ranker is not None
    return ranker


def test_held_out_scenes_are_found_by_their_description(library):
    app, photos = library
    ranker = _ranker(app)
    ids = {app.index.photos.id_of(p): caption for caption, p in photos.items()}
    assert None not in ids
    first = {}
    for caption in photos:
        hits = ranker.rank(caption, 3)
        assert all(s >= TOY_THRESHOLD for _, s in hits)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        first[caption] = ids[hits[0][0]] if hits else None
    # Eleven of the twelve are their description's best match; the toy CLIP (60% top-1 over
    # 300 held-out scenes) scores the busiest scene 0.78 to its own words: below the cut.
    missed = "luna left of a blue circle left of a blue person"
    assert first == {c: (None if c == missed else c) for c in photos}


def test_a_description_of_nothing_in_the_library_finds_nothing(library):
    app, photos = library
    assert _ranker(app).rank("a yellow person above a purple triangle", 5) == []


def test_no_ranker_when_clip_is_off(tmp_path):
    with Index(tmp_path / "i.sqlite") as index:
        off = ClipConfig(enabled=False)
        assert ClipRanker.create(off, index, clip=None) is None
