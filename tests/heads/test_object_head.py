"""The object head on a real open_clip CLIP architecture (tiny config, random weights, no
download): mined negatives, the stored threshold, held-out metrics and atomic versioning."""

from __future__ import annotations

import numpy as np
import pytest
from concept_fixtures import (
    builtin_registry,
    detections,
    index_photos,
    make_config,
    save,
    source_image,
)

from photod.app import build_app
from photod.heads.augment import augment
from photod.heads.linear import choose_threshold
from photod.heads.negatives import mine_negatives
from photod.index import concepts as store
from tests.conftest import write_photo

OTHERS = ["astronaut", "camera", "chelsea", "rocket", "horse", "page", "moon", "text"]


def _views(name, seed, n):
    return augment(source_image(name).resize((160, 160)), n, np.random.default_rng(seed))


@pytest.fixture
def mug(concept_app, tmp_path):
    """A library of other photos, and 'my mug' with 5 examples of scikit-image's coffee cup."""
    app = concept_app
    lib = tmp_path / "photos"
    library = [save(v, lib / f"{n}{i}.jpg") for n in OTHERS for i, v in enumerate(_views(n, 1, 4))]
    stages = index_photos(app, library)
    examples = [save(v, tmp_path / f"ex/mug{i}.jpg") for i, v in enumerate(_views("coffee", 2, 5))]

    def add(db):
        c = store.add_concept(db, "my mug", kind="object", class_word="mug")
        for p in examples:
            store.add_example(db, c.id, p)
        return c.id

    cid = app.index.write(add)
    return app, stages, app.trainer, cid, library


def test_trains_from_mined_negatives_and_recognises_new_views(mug, tmp_path):
    app, stages, trainer, cid, library = mug
    outcome = trainer.train(cid)
    m = outcome.metrics
    assert outcome.version == 1 and m["hard_negatives"] > 0 and m["negatives"] > 20
    assert m["held_out_positives"] == 1 and m["recall"] == 1.0
    assert 0.05 <= m["threshold"] <= 0.95 and m["seconds"] < 30
    concept = store.get_concept(app.index.reader(), cid)
    assert concept.head_model.startswith("linear:local-dir:") and concept.metrics["recall"] == 1.0
    new = [save(v, tmp_path / f"photos/new{i}.jpg") for i, v in enumerate(_views("coffee", 9, 3))]
    index_photos(app, new, stages=stages)
    hits = [p for p in new if detections(app, p)]
    assert len(hits) >= 2
    [(name, _, version, head_model)] = detections(app, hits[0])
    assert (name, version, head_model) == ("my mug", 1, concept.head_model)
    fired_on_others = sum(bool(detections(app, p)) for p in library)
    assert fired_on_others <= 2  # the re-run after training scored the whole library


def test_a_failed_training_keeps_the_previous_version(mug, monkeypatch):
    app, _, trainer, cid, _ = mug
    first = trainer.train(cid)
    dirs = app.catalog.artifacts.versions(cid)

    def die(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.numpy.save_file", die)  # the failure, not the component
    with pytest.raises(OSError):
        trainer.train(cid)
    assert store.get_concept(app.index.reader(), cid).version == first.version
    assert app.catalog.artifacts.versions(cid) == dirs
    tensors, meta = app.catalog.artifacts.load(cid, first.version)
    assert meta["threshold"] == pytest.approx(first.metrics["threshold"])
    monkeypatch.undo()
    second = trainer.train(cid)  # the orphaned temp folder does not block the next version
    assert second.version == first.version + 1
    folder = app.catalog.artifacts.concept_dir(cid) / f"v{second.version}"
    mode = (folder / "head.safetensors").stat()
    assert mode.st_mode & 0o077 == 0


def test_mining_picks_nearest_as_hard_and_excludes_nothing_else():
    rng = np.random.default_rng(0)
    pos = np.array([[1.0, 0.0]], np.float32)
    lib = np.array([[0.9, 0.1], [0.0, 1.0], [0.7, 0.7], [-1.0, 0.0]], np.float32)
    neg = mine_negatives(pos, lib, ["a", "b", "c", "d"], hard=2, random=1, rng=rng)
    assert neg.hashes[:2] == ["a", "c"] and neg.hard == 2 and len(neg.hashes) == 3


def test_threshold_is_half_when_it_separates_else_balanced_cut():
    assert choose_threshold(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 0.5
    t = choose_threshold(np.array([0.4, 0.45]), np.array([0.1, 0.2]))
    assert 0.2 < t < 0.4


def test_training_examples_obey_the_ingest_size_limit(tmp_path):
    """Examples are decoded with the library's limits (one source: ``ingest``)."""
    from photod.index.concepts import ConceptError

    big = write_photo(tmp_path / "big.png", size=(400, 400), seed=3)  # PNG: noise stays big
    limit = big.stat().st_size / 2**20 / 2
    config = make_config(tmp_path, f"ingest:\n  max_file_mb: {limit}\n")
    with build_app(config, plugins=builtin_registry()) as app:
        ctx = app.trainer.context()
        with pytest.raises(ConceptError, match="file too large"):
            ctx.image(str(big))
