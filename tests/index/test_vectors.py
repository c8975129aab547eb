"""The CLIP vectors of the index: one matrix per model, re-read when the table changes,
joined to the present photos (exact copies share their content's embedding)."""

from __future__ import annotations

import numpy as np

from photod.index import Index, vectors
from photod.index.bulk import BulkPhoto
from photod.index.features import store_clip


def _unit(*xs: float) -> bytes:
    v = np.asarray(xs, np.float32)
    return (v / np.linalg.norm(v)).tobytes()


def test_nearest_photos_by_content_with_copies_and_a_threshold(tmp_path):
    with Index(tmp_path / "i.sqlite") as index:
        index.photos.add_bulk(
            [BulkPhoto("/a.jpg", content_hash="ha"), BulkPhoto("/b.jpg", content_hash="hb")]
        )
        index.photos.add_bulk(
            [BulkPhoto("/copy/a.jpg", content_hash="ha"), BulkPhoto("/c.jpg", content_hash="hc")]
        )
        rows = [("ha", "m", _unit(1, 0)), ("hb", "m", _unit(1, 1)), ("hc", "m", _unit(0, 1))]
        index.write(lambda db: store_clip(db, rows))
        ids = {p: index.photos.id_of(p) for p in ("/a.jpg", "/copy/a.jpg", "/b.jpg", "/c.jpg")}
        q = np.array([1, 0], np.float32)
        near = index.vectors.nearest_photos("m", q, limit=10, min_score=0.5)
        assert [(pid, round(s, 3)) for pid, s in near] == [
            (ids["/a.jpg"], 1.0),
            (ids["/copy/a.jpg"], 1.0),
            (ids["/b.jpg"], 0.707),
        ]
        assert index.vectors.nearest_photos("m", q, limit=1) == [(ids["/a.jpg"], 1.0)]
        assert index.vectors.nearest_photos("other model", q, limit=5) == []


def test_the_matrix_reads_only_the_embeddings_stored_since(tmp_path):
    with Index(tmp_path / "i.sqlite") as index:
        index.write(lambda db: store_clip(db, [("ha", "m", _unit(1, 0)), ("x", "n", _unit(1, 0))]))
        held = index.vectors.contents("m")
        assert held.hashes == ["ha"] and len(index.vectors.contents("n")) == 1
        index.write(lambda db: store_clip(db, [("ha", "m", _unit(0, 1))]))  # replaced
        index.write(lambda db: store_clip(db, [("hb", "m", _unit(1, 1))]))  # added
        assert index.vectors.contents("m") is held
        assert held.hashes == ["ha", "hb"]
        assert np.allclose(held.matrix, [[0, 1], [0.7071, 0.7071]], atol=1e-4)
        # A new process reads the same from scratch.
        fresh = Index(tmp_path / "i.sqlite", readonly=True)
        assert fresh.vectors.contents("m").matrix.tolist() == held.matrix.tolist()
        fresh.close()


def test_close_pairs_each_once():
    m = np.array([[1, 0], [0.99, 0.141], [0, 1]], np.float32)
    cv = vectors.ContentVectors("m")
    cv.add(["a", "b", "c"], m / np.linalg.norm(m, axis=1)[:, None], version=3)
    assert [(a, b) for a, b, _ in cv.close_pairs(0.9, block=1)] == [("a", "b")]
    assert [(a, b) for a, b, _ in cv.close_pairs(0.9)] == [("a", "b")]
