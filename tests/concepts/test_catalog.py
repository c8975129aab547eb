"""The concept catalog: one snapshot of the active versions, re-read only when they change.

A real index, real version folders written by the artifact store and real embedding files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import photod.vlm.embeddings as embeddings
from photod.concepts.catalog import ConceptCatalog, artifact_store
from photod.index import Index
from photod.index import concepts as store
from photod.pipeline.task import Detection


def _train(index, artifacts, cid: int, version: int, vec: torch.Tensor) -> None:
    artifacts.write(
        cid,
        version,
        {"w": np.ones(4, np.float32) * version},
        {"threshold": 0.5},
        lambda folder: embeddings.save_embedding(folder, "toy", vec) and {},
    )
    index.write(lambda db: store.set_version(db, cid, version, "m", {}))


def test_snapshot_is_cached_until_a_concept_changes(tmp_path: Path, monkeypatch):
    artifacts = artifact_store(tmp_path / "data")
    with Index(tmp_path / "index.sqlite") as index:
        catalog = ConceptCatalog(artifacts, index.concepts, vlm_ids=["toy"])
        rex = index.write(lambda d: store.add_concept(d, "Rex", kind="pet", class_word="dog").id)
        bob = index.write(lambda d: store.add_concept(d, "Bob", kind="object", class_word="x").id)
        rex_v1, bob_v1 = torch.rand(1, 8), torch.rand(1, 8)
        _train(index, artifacts, rex, 1, rex_v1)
        _train(index, artifacts, bob, 1, bob_v1)

        # Count the embedding files read from here on (the real reader, only counted).
        reads = []
        real = embeddings.load_embedding
        monkeypatch.setattr(embeddings, "load_embedding", lambda *a: reads.append(a) or real(*a))
        first = catalog.active()
        assert len(reads) == 2 and sorted(first.artifacts) == sorted([bob, rex])
        grouped = first.by_head(["object", "person"])  # pets are served by the object head
        assert sorted(c.concept.name for c in grouped["object"]) == ["Bob", "Rex"]

        detections = [Detection(rex, 0.9, "pet", 1), Detection(bob, 0.8, "object", 1)]
        for _ in range(20):  # twenty photos: no file read
            fired = catalog.fired(detections, "toy")
        assert catalog.active() is first and len(reads) == 2
        assert [f.concept_id for f in fired] == sorted([rex, bob])  # ascending id
        assert torch.equal(fired[[f.concept_id for f in fired].index(rex)].embedding, rex_v1)
        assert len(first.embeddings_except("toy", rex)) == 1

        rex_v2 = torch.rand(1, 8)
        _train(index, artifacts, rex, 2, rex_v2)  # a retrain switches the version
        second = catalog.active()
        assert second is not first and second.concepts[rex].version == 2
        (got,) = catalog.fired([Detection(rex, 0.9, "pet", 2)], "toy")
        assert torch.equal(got.embedding, rex_v2)
        # A photo scored by the previous version just before the switch gets that version.
        (old,) = catalog.fired([Detection(rex, 0.9, "pet", 1)], "toy")
        assert old.version == 1 and torch.equal(old.embedding, rex_v1)
