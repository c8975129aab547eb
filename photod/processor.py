"""Turning queued jobs into work: photos go through the pipeline, deletes and moves do not.

Used by the daemon and by ``photod scan`` alike, so both index the same way.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from photod.config import PipelineConfig
from photod.fsutil import stat_version, version_stat
from photod.index import Index, jobs
from photod.index.photos import mark_missing, move_photo, record_failure, set_meta
from photod.pipeline.events import CommitListener, notify_committed
from photod.pipeline.runner import ThreadedPipeline, run_sequential
from photod.pipeline.stage import Stage
from photod.pipeline.task import PhotoTask

log = logging.getLogger(__name__)


class JobProcessor:
    """Claims jobs from the persistent queue and sees each one through to its commit."""

    def __init__(
        self,
        index: Index,
        config: PipelineConfig,
        stages: Sequence[Stage],
        *,
        threaded: bool = True,
        listeners: Sequence[CommitListener] = (),
    ):
        self._index = index
        self._max_attempts = config.max_attempts
        self._stages = list(stages)
        self._listeners = list(listeners)
        cfg = config
        self._capacity = cfg.queue_size * 2
        self._pipeline = (
            ThreadedPipeline(self._stages, self._finish, queue_size=cfg.queue_size)
            if threaded
            else None
        )
        self._lock = threading.Lock()
        self.done = 0
        self.failed = 0
        self.last_activity: float | None = None

    def start(self) -> JobProcessor:
        """Start the pipeline threads and put back the jobs a crash left running."""
        requeued, poisoned = self._index.jobs.recover(self._max_attempts)
        if requeued:
            log.info("re-queued %d job(s) left unfinished by the last run", requeued)
        for job in poisoned:
            log.error(
                "giving up on %s: photod stopped %d times while processing it",
                job.path,
                job.attempts,
            )
            reason = f"photod stopped {job.attempts} times while processing this photo"
            self._index.photos.record_failure(
                job.path, "pipeline", reason, version=stat_version(version_stat(Path(job.path)))
            )
        if self._pipeline:
            self._pipeline.start()
        return self

    @property
    def in_flight(self) -> int:
        """Photos inside the pipeline right now."""
        return self._pipeline.in_flight if self._pipeline else 0

    def pump(self) -> int:
        """Claim as many jobs as the pipeline has room for and dispatch them; return the count."""
        room = self._capacity - self.in_flight
        if room <= 0:
            return 0
        claimed = self._index.jobs.claim(room)
        for job in claimed:
            self._dispatch(job)
        return len(claimed)

    def _dispatch(self, job: jobs.Job) -> None:
        if job.kind == jobs.INDEX:
            task = PhotoTask(job=job, path=Path(job.path))
            if self._pipeline:
                self._pipeline.put(task)
            else:
                run_sequential(self._stages, [task], self._finish)
        elif job.kind == jobs.DELETE:
            self._index.write(lambda db: self._delete(db, job))
        elif job.kind == jobs.MOVE:
            self._index.write(lambda db: self._move(db, job))
        else:
            log.error("unknown job kind %r for %s; dropping it", job.kind, job.path)
            self._index.jobs.complete(job.id)

    def _delete(self, db, job: jobs.Job) -> None:
        if os.path.lexists(job.path):  # re-created since: index it instead
            jobs.enqueue(db, jobs.INDEX, job.path)
        else:
            mark_missing(db, job.path)
        jobs.complete(db, job.id)
        self._touch(db)

    def _move(self, db, job: jobs.Job) -> None:
        src = job.payload.get("src", "")
        if not move_photo(db, src, job.path):
            jobs.enqueue(db, jobs.INDEX, job.path)  # moved in from outside what we knew
        jobs.complete(db, job.id)
        self._touch(db)

    def _touch(self, db) -> None:
        self.last_activity = time.time()
        set_meta(db, "last_activity", str(self.last_activity))

    def _finish(self, task: PhotoTask) -> None:
        # The photo's results are committed (the index stage ran): post-commit work, before
        # the job leaves the queue, so that its failure is recorded with the job's end.
        notify_committed(self._listeners, task)

        def commit(db) -> None:
            if task.error is not None:
                # The version that failed, not the file as it is now: a photo still being
                # copied fails as empty, and its complete version must then be tried.
                read = (task.info.size, task.info.mtime_ns) if task.info is not None else None
                version = task.error.version or read or stat_version(version_stat(task.path))
                record_failure(
                    db, str(task.path), task.error.stage, str(task.error), version=version
                )
            jobs.complete(db, task.job.id)
            self._touch(db)

        if task.error is not None:
            log.warning("%s: %s failed: %s", task.path, task.error.stage, task.error)
        self._index.write(commit)
        with self._lock:
            if task.error is None:
                self.done += 1
            else:
                self.failed += 1

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything dispatched so far is committed."""
        return self._pipeline.wait_idle(timeout) if self._pipeline else True

    def purge_missing(self) -> int:
        """Delete the rows of photos that stayed missing (run when the queue is idle)."""
        return self._index.photos.purge_missing()

    def close(self) -> None:
        """Finish what is in the pipeline, then stop its threads and close the stages."""
        if self._pipeline:
            self._pipeline.close()
        for part in [*self._stages, *self._listeners]:
            try:
                part.close()
            except Exception:
                log.exception("closing %s failed", part.name)
