"""CLIP zero-shot tags through the real pipeline: the toy CLIP, toy-world photos, a real
index. A vocabulary word becomes a tag (source ``clip``, the CLIP model) where it fits."""

from __future__ import annotations

from pathlib import Path

from concept_fixtures import builtin_registry, index_photos, make_config

from photod.app import build_app
from photod.index.tags import photo_tags
from photod_lab.toyworld.fixture import fixture_dir
from photod_lab.toyworld.scenes import SceneGenerator

WORDS = ["a blue circle", "a green circle", "a purple square"]


def _tags(tmp_path: Path, extra: str) -> dict[str, list[tuple]]:
    clip = fixture_dir("toy-clip")
    config = make_config(tmp_path, extra, clip_dir=clip)
    scenes = {s.caption(): s for s in SceneGenerator(303).batch(12)}
    paths = []
    for name in (
        "a blue circle",
        "a green circle",
        "a purple square",
        "a green triangle left of ada",
    ):
        path = config.library.roots[0] / f"{name.replace(' ', '-')}.png"
        scenes[name].image().save(path)
        paths.append(str(path))
    with build_app(config, plugins=builtin_registry()) as app:
        index = app.index
        index_photos(app, paths)
        return {
            Path(p).stem.replace("-", " "): [
                (t.value, t.source, t.model)
                for t in index.read(lambda db, p=p: photo_tags(db, index.photos.id_of(p)))
            ]
            for p in paths
        }


def test_vocabulary_words_become_tags_where_they_fit(tmp_path):
    yaml = f"  zero_shot_tags: {WORDS}\n  zero_shot_threshold: 0.8\n"
    tags = _tags(tmp_path, yaml)
    model = f"local-dir:{fixture_dir('toy-clip')}#zero-shot"
    assert tags == {
        "a blue circle": [("a blue circle", "clip", model)],
        "a green circle": [("a green circle", "clip", model)],
        "a purple square": [("a purple square", "clip", model)],
        "a green triangle left of ada": [],
    }


def test_no_vocabulary_no_tags(tmp_path):
    assert all(t == [] for t in _tags(tmp_path, "").values())
