"""The shipped colour head (plugins/photod-colour), registered as a plugin like a third party
would, trained through the same trainer as the built-ins, on real photographs."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from concept_fixtures import (
    builtin_registry,
    detections,
    index_photos,
    make_config,
    run_queue,
    save,
    source_image,
)

from photod.app import build_app
from photod.heads.augment import augment
from photod.index import concepts as store

PLUGIN = Path(__file__).parents[2] / "plugins" / "photod-colour"


@pytest.fixture
def colour_plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN))  # as `pip install -e plugins/photod-colour` does
    import photod_colour

    yield photod_colour
    sys.modules.pop("photod_colour", None)


def test_entry_point_is_declared():
    meta = tomllib.loads((PLUGIN / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["photod"] == {"colour": "photod_colour"}


@pytest.fixture
def app(colour_plugin, tmp_path):
    """An app with the built-in heads and the colour plugin registered."""
    plugins = builtin_registry()
    plugins.register(colour_plugin, "colour", "test")
    with build_app(make_config(tmp_path), plugins=plugins) as app:
        yield app


def test_colour_concept_recognises_the_cat_not_grey_photos(app, tmp_path):
    assert {h.name for h in app.heads} == {"person", "object", "colour"}
    rng = np.random.default_rng(0)
    cat = source_image("chelsea")
    lib = tmp_path / "photos"
    others = [
        save(v, lib / f"o{n}{i}.jpg")
        for n in ("camera", "coins", "astronaut", "rocket")
        for i, v in enumerate(augment(source_image(n).resize((160, 160)), 2, rng))
    ]

    index_photos(app, others)
    examples = [save(v, tmp_path / f"ex/cat{i}.jpg") for i, v in enumerate(augment(cat, 4, rng))]

    def add(db):
        c = store.add_concept(db, "Ginger", kind="pet", class_word="cat", head="colour")
        for p in examples:
            store.add_example(db, c.id, p)
        return c.id

    cid = app.index.write(add)
    out = app.trainer.train(cid)
    assert out.metrics["leave_one_out_recall"] >= 0.75 and out.metrics["negatives"] == 8
    assert len(out.rerun) == 8  # the head cannot tell from stored features: all photos re-run
    new_cat = save(augment(cat, 1, np.random.default_rng(5))[0], lib / "cat.jpg")
    index_photos(app, [new_cat])
    [(name, _, version, head_model)] = detections(app, new_cat)
    assert (name, version, head_model) == ("Ginger", 1, "colour-hist-18x4")

    run_queue(app)  # the forced re-runs of the library
    assert sum(bool(detections(app, p)) for p in others) <= 1
