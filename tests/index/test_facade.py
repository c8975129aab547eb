"""The Index facade on a real SQLite file: one writer, per-thread readers, repositories."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from photod.index import Index, jobs
from photod.index import concepts as store


def test_writes_commit_and_every_thread_reads_on_its_own_connection(tmp_path):
    with Index(tmp_path / "i.sqlite") as index:
        assert index.jobs.enqueue(jobs.INDEX, "/a.jpg")
        assert index.jobs.enqueue_many(jobs.INDEX, ["/b.jpg", "/a.jpg"]) == 2  # a refreshed
        assert index.jobs.counts() == {"queued": 2}
        seen: dict[str, object] = {}

        def other_thread() -> None:
            seen["db"] = index.reader()
            seen["known"] = index.read(lambda db: jobs.counts(db))

        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert seen["known"] == {"queued": 2}  # committed writes are visible to readers
        assert seen["db"] is not index.reader()
        assert index.reader() is index.reader()


def test_one_write_is_one_transaction(tmp_path):
    with Index(tmp_path / "i.sqlite") as index:

        def add_then_fail(db) -> None:
            store.add_concept(db, "Rex", kind="pet", class_word="dog")
            store.add_concept(db, "Rex", kind="pet", class_word="dog")  # ConceptError

        with pytest.raises(store.ConceptError):
            index.write(add_then_fail)
        assert index.concepts.all() == []  # the first insert was rolled back too
        rex = index.write(lambda db: store.add_concept(db, "Rex", kind="pet", class_word="dog"))
        assert index.submit(lambda db: store.add_example(db, rex.id, "/r.jpg")).result()
        assert index.concepts.require("rex").id == rex.id
        assert [e.path for e in index.concepts.examples(rex.id)] == ["/r.jpg"]


def test_features_round_trip_through_the_repository(tmp_path):
    with Index(tmp_path / "i.sqlite") as index:
        emb = np.arange(4, dtype=np.float32)
        index.features.store_clip([("h1", "clip-test", emb.tobytes())]).result()
        got = index.features.cached_clip("clip-test", ["h1", "h2"])
        assert list(got) == ["h1"] and np.array_equal(got["h1"], emb)
        assert index.features.cached_clip("other-model", ["h1"]) == {}


def test_failures_and_versions_as_reconcile_sees_them(tmp_path):
    with Index(tmp_path / "i.sqlite") as index:
        index.photos.record_failure("/bad.jpg", "ingest", "truncated", version=(3, 4))
        assert index.photos.known_versions() == ({}, {"/bad.jpg": (3, 4)})
        assert [f["reason"] for f in index.photos.failures()] == ["truncated"]
        index.photos.drop_failures(["/bad.jpg"])
        assert index.photos.known_versions() == ({}, {})


def test_close_closes_every_reader_and_readonly_never_writes(tmp_path):
    path = tmp_path / "i.sqlite"
    index = Index(path).start()
    index.meta.set("daemon_state", "running")
    old = index.reader()
    index.close()
    with pytest.raises(Exception, match="closed"):
        old.execute("SELECT 1")
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)  # owner-only, faces are biometric

    ro = Index(path, readonly=True)
    assert ro.meta.status()["daemon"] == "running"
    with pytest.raises(RuntimeError, match="read-only"):
        ro.start()
    ro.close()
