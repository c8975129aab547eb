"""Scheduled retraining: the index is the source of truth, APScheduler does the timing.

A change to a concept's examples calls :func:`request_training` (in the same transaction),
which upserts the concept's row in ``training_jobs`` with a due time: now + the debounce
delay, moved into the cron window if one is configured. The daemon's
:class:`TrainingScheduler` mirrors the queued rows into APScheduler date jobs (re-read
every few seconds, so changes made by the CLI in another process are seen too). A job id
carries the due time, so a later change simply replaces the job (debounce). Rows survive
restarts; a row left ``running`` by a crash is queued again at start, and a due time that
passed while photod was down runs once, right away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

import sqlite_utils

from photod.config import ConceptsConfig
from photod.index import Index, training

log = logging.getLogger(__name__)

PREFIX = "train-"


def due_time(now: float, cfg: ConceptsConfig) -> float:
    """When a change made at ``now`` should be trained."""
    due = now + cfg.retrain_delay_seconds
    if cfg.retrain_cron:
        from apscheduler.triggers.cron import CronTrigger
        from tzlocal import get_localzone

        tz = get_localzone()
        trigger = CronTrigger.from_crontab(cfg.retrain_cron, timezone=tz)
        nxt = trigger.get_next_fire_time(None, datetime.fromtimestamp(due, tz))
        due = nxt.timestamp() if nxt else due
    return due


def request_training(
    db: sqlite_utils.Database, concept_id: int, cfg: ConceptsConfig, now: float | None = None
) -> float:
    """Queue (or push back: debounce) the concept's retraining; return its due time."""
    now = time.time() if now is None else now
    due = due_time(now, cfg)
    training.request(db, concept_id, due, now)
    return due


class TrainingScheduler:
    """Runs due training jobs, one at a time, in an APScheduler background thread.

    Built once by the composition root (nothing runs until :meth:`start`).
    """

    def __init__(self, index: Index, train: Callable[[int], object], cfg: ConceptsConfig) -> None:
        self._index = index
        self._train = train
        self._cfg = cfg
        self._on_trained: Callable[[], None] | None = None
        self._scheduler = None

    def start(
        self, *, on_trained: Callable[[], None] | None = None, sync_seconds: float = 5.0
    ) -> TrainingScheduler:
        """Re-queue what a crash left running, then mirror the table into APScheduler.

        ``on_trained``: called after each successful training (its re-run jobs are queued);
        ``sync_seconds``: how often the queued rows are re-read.
        """
        self._on_trained = on_trained
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        n = self._index.training.requeue_running()
        if n:
            log.info("re-queued %d training job(s) interrupted by the last stop", n)
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            # One training at a time; syncing has its own thread so it never waits for one.
            executors={"default": ThreadPoolExecutor(1), "sync": ThreadPoolExecutor(1)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(self._cfg.misfire_grace_seconds),
            },
        )
        self._scheduler.start()
        self._scheduler.add_job(
            self.sync, "interval", seconds=sync_seconds, id="sync", executor="sync"
        )
        self.sync()
        return self

    def sync(self) -> None:
        """Make APScheduler's jobs match the queued rows of ``training_jobs``."""
        if self._scheduler is None:
            return
        rows = self._index.training.queued()
        wanted = {f"{PREFIX}{cid}-{due!r}": (cid, due) for cid, due in rows}
        for job in self._scheduler.get_jobs():
            if job.id.startswith(PREFIX) and job.id not in wanted:
                job.remove()
        now = time.time()
        for job_id, (cid, due) in wanted.items():
            if self._scheduler.get_job(job_id) is None:
                # A due time in the past (photod was down) runs once, now.
                run_at = datetime.fromtimestamp(max(due, now)).astimezone()
                self._scheduler.add_job(
                    self._run,
                    "date",
                    run_date=run_at,
                    args=(cid, due),
                    id=job_id,
                    replace_existing=True,
                )

    def _run(self, cid: int, due: float) -> None:
        if not self._index.training.claim(cid, due):
            return  # pushed back by a newer change, or done by `photod concept train`
        try:
            self._train(cid)
        except Exception as exc:
            log.exception("training concept %d failed", cid)
            error = f"{type(exc).__name__}: {exc}"
            self._failed(cid, error)
            self.sync()
            return
        # A change that arrived during training left the row queued: schedule it.
        self.sync()
        if self._on_trained:
            self._on_trained()

    def _failed(self, cid: int, error: str) -> None:
        # Back off, and give up (state 'failed', shown by status) after max_attempts.
        retry = time.time() + max(60.0, self._cfg.retrain_delay_seconds)
        self._index.training.fail(cid, error, retry_at=retry, max_attempts=self._cfg.max_attempts)

    def shutdown(self) -> None:
        """Stop scheduling; a training in progress is left to finish or to be re-queued."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
