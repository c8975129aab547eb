"""The persistent job queue: dedupe, claim, crash recovery, poisoned jobs."""

from __future__ import annotations

import contextlib

from photod.index import jobs
from photod.index.writer import IndexWriter


def test_enqueue_dedupes_queued_but_not_running(tmp_path):
    with IndexWriter(tmp_path / "i.sqlite") as w:
        w.call(lambda db: jobs.enqueue(db, jobs.INDEX, "/a.jpg"))
        w.call(lambda db: jobs.enqueue(db, jobs.INDEX, "/a.jpg"))
        w.call(lambda db: jobs.enqueue(db, jobs.DELETE, "/a.jpg"))
        assert w.call(jobs.counts) == {"queued": 2}
        claimed = w.call(lambda db: jobs.claim(db, 10))
        assert [(j.kind, j.path, j.attempts) for j in claimed] == [
            ("index", "/a.jpg", 1),
            ("delete", "/a.jpg", 1),
        ]
        # While it runs, a new change to the same photo queues it again (it must re-run).
        assert w.call(lambda db: jobs.enqueue(db, jobs.INDEX, "/a.jpg"))
        assert w.call(jobs.counts) == {"queued": 1, "running": 2}
        w.call(lambda db: jobs.complete(db, claimed[0].id))
        assert w.call(jobs.counts) == {"queued": 1, "running": 1}


def test_recover_requeues_running_and_gives_up_on_poison(tmp_path):
    with IndexWriter(tmp_path / "i.sqlite") as w:
        for p in ("/a.jpg", "/b.jpg", "/c.jpg"):
            w.call(lambda db, p=p: jobs.enqueue(db, jobs.INDEX, p, {"force": True}))
        first = w.call(lambda db: jobs.claim(db, 3))
        assert first[0].payload == {"force": True}
        # Simulate a crash: nothing completed. /c.jpg was also changed again meanwhile.
        w.call(lambda db: jobs.enqueue(db, jobs.INDEX, "/c.jpg"))
        requeued, poisoned = w.call(lambda db: jobs.recover(db, max_attempts=3))
        assert (requeued, poisoned) == (3, [])
        assert w.call(jobs.counts) == {"queued": 3}  # c's twin merged, not duplicated
        # Crash twice more on /a.jpg: the third recovery gives up on it.
        w.call(lambda db: jobs.claim(db, 1))
        w.call(lambda db: jobs.recover(db, max_attempts=3))
        claimed = w.call(lambda db: jobs.claim(db, 1))
        assert claimed[0].path == "/a.jpg" and claimed[0].attempts == 3
        requeued, poisoned = w.call(lambda db: jobs.recover(db, max_attempts=3))
        assert [j.path for j in poisoned] == ["/a.jpg"]
        assert sorted(j.path for j in w.call(lambda db: jobs.claim(db, 10))) == ["/b.jpg", "/c.jpg"]


def test_writer_rolls_back_a_failed_unit(tmp_path):
    with IndexWriter(tmp_path / "i.sqlite") as w:

        def boom(db):
            jobs.enqueue(db, jobs.INDEX, "/x.jpg")
            raise RuntimeError("half-way")

        fut = w.submit(boom)
        with contextlib.suppress(RuntimeError):
            fut.result()
        assert w.call(jobs.counts) == {}
