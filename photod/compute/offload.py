"""The driver's pipeline with ``compute.backend: ray``: read here, models there, commit here.

:func:`offload_stages` turns the local stage list (ingest, the model stages, index) into
three stages: :class:`ReadStage` reads and hashes each photo (and notices unchanged content,
as ingest does), :class:`OffloadStage` sends batches to the cluster's model workers, where
decode, places, the heads, personalize and the plugin stages run, and :class:`CommitStage`
commits through the same index writer as a local scan, unless the photo changed on disk
since it was read (its result is then discarded and the photo queued again).

When the cluster cannot be reached, the offload stage says so once and runs the same model
stages in this process (``compute.on_unreachable: local``), or waits for the cluster
(``wait``); it tries the cluster again every ``compute.retry_seconds``. A job stays in the
persistent queue until its photo is committed, so nothing is lost either way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from photod.compute.cluster import ComputeError, WorkerPool
from photod.compute.work import DATA, WorkItem, WorkResult, apply, item_of, run_items
from photod.concepts.catalog import ConceptCatalog
from photod.config import ComputeConfig
from photod.fsutil import stat_version, version_stat
from photod.index import Index, jobs
from photod.index.features import store_clip
from photod.index.photos import save_photo, set_meta
from photod.ingest.decode import DecodeLimits, content_hash
from photod.ingest.reading import read_file
from photod.pipeline.stage import BaseStage, Stage
from photod.pipeline.task import PhotoInfo, PhotoTask
from photod.stages.index import IndexStage

log = logging.getLogger(__name__)

Rejected = Callable[[list[str]], dict[str, set[int]]]


class ReadStage(BaseStage):
    """Read and hash each photo; mark it unchanged when the same content is indexed."""

    name = "ingest"  # its failures are the same as ingest's: unreadable, empty, too large
    runs_on_unchanged = True

    def __init__(self, index: Index, limits: DecodeLimits, workers: int) -> None:
        self._index = index
        self._max_bytes = limits.max_bytes
        self.workers = workers

    def process(self, task: PhotoTask) -> None:
        """Fill ``task.info`` (hash and version) and keep the bytes for the worker."""
        data, st = read_file(task.path, self._max_bytes)
        task.info = PhotoInfo(content_hash(data), st.st_size, st.st_mtime_ns, 0, 0)
        task.extras[DATA] = data
        if not task.job.payload.get("force"):
            indexed = self._index.photos.indexed_hash(task.path)
            task.unchanged = indexed == task.info.content_hash


class OffloadStage(BaseStage):
    """Send batches of photos to the cluster's model workers (or run them here, see above)."""

    name = "offload"
    runs_on_unchanged = True  # an unchanged photo is still decoded (the index stores its facts)

    def __init__(
        self,
        compute: ComputeConfig,
        pool: Callable[[], WorkerPool],
        local: Sequence[Stage],
        catalog: ConceptCatalog,
        rejected: Rejected,
        limits: DecodeLimits,
        on_versions: Callable[[dict[str, str]], None],
    ) -> None:
        """``pool``: builds (not yet started) the worker pool; ``local``: the same model
        stages built in this process, for when the cluster cannot be reached."""
        self._compute = compute
        self._make_pool = pool
        self._pool: WorkerPool | None = None
        self.local = list(local)
        self._catalog = catalog
        self._rejected = rejected
        self._limits = limits
        self._on_versions = on_versions
        self.batch_size = compute.batch_size
        self.workers = compute.workers  # one batch in flight per model worker
        self._lock = threading.Lock()
        self._next_try = 0.0
        self._said = False

    @property
    def pool(self) -> WorkerPool | None:
        """The cluster's model workers while connected (None: not yet, or unreachable)."""
        return self._pool

    def process(self, task: PhotoTask) -> None:
        """One photo (a batch of one)."""
        self.process_batch([task])

    def process_batch(self, tasks: Sequence[PhotoTask]) -> None:
        """Run the models on ``tasks`` where they run now and put the results on them."""
        hashes = [t.info.content_hash for t in tasks if t.info is not None]
        rejected = self._rejected(hashes) if hashes else {}
        items = [item_of(t, frozenset(rejected.get(t.info.content_hash, ()))) for t in tasks]
        for task, result in zip(tasks, self._run(items), strict=True):
            apply(result, task)
            task.extras.pop(DATA, None)

    def _run(self, items: list[WorkItem]) -> list[WorkResult]:
        while True:
            pool = self._connected(time.monotonic())
            if pool is not None:
                try:
                    return self._checked(pool, pool.run(self._catalog.active(), items))
                except ComputeError as exc:
                    self._lost(exc)
                    continue
            if self._compute.on_unreachable == "local":
                return run_items(self.local, items, self._limits)
            time.sleep(self._compute.retry_seconds)  # "wait": the photos stay in flight

    def _checked(self, pool: WorkerPool, results: list[WorkResult]) -> list[WorkResult]:
        # A worker restarted on a machine with other models must not write its results.
        for r in results:
            if r.versions != pool.versions and r.error is None:
                r.error = (f"a worker ran other models: {r.versions}", "offload")
        return results

    def _connected(self, now: float) -> WorkerPool | None:
        with self._lock:
            if self._pool is not None or now < self._next_try:
                return self._pool
            try:
                self._pool = self._make_pool().start()
            except Exception as exc:  # ComputeError, or Ray's own on a broken cluster
                self._next_try = now + self._compute.retry_seconds
                if not self._said:  # once, not for every batch while it stays away
                    self._said = True
                    action = (
                        "running the models here"
                        if self._compute.on_unreachable == "local"
                        else "waiting for it"
                    )
                    log.warning("%s; %s", exc, action)
                return None
            if self._said:
                log.info("the Ray cluster is back: the models run there again")
            self._said = False
            self._on_versions(self._pool.versions)
            return self._pool

    def _lost(self, exc: ComputeError) -> None:
        log.warning("%s; the batch runs again", exc)
        with self._lock:
            if self._pool is not None:
                self._pool.close()
            self._pool = None

    def close(self) -> None:
        """Stop the model workers and free the local models (if they ever loaded)."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
        for stage in self.local:
            stage.close()


class CommitStage(IndexStage):
    """The index commit, unless the photo changed since it was read: then the results are
    dropped and the photo is queued again, in the same transaction."""

    def __init__(self, index: Index, clip_model: str | None) -> None:
        super().__init__(index)
        self._clip_model = clip_model

    def process(self, task: PhotoTask) -> None:
        """Commit ``task`` (and its CLIP embedding) or queue its photo again."""
        self._index.write(lambda db: self._commit(db, task))

    def _commit(self, db, task: PhotoTask) -> None:
        info = task.info
        now = stat_version(version_stat(task.path))
        if info is None or now != (info.size, info.mtime_ns):
            log.info("%s changed while its models ran: results dropped, queued again", task.path)
            jobs.enqueue(db, jobs.INDEX, str(task.path))
            return
        save_photo(db, task)
        clip = task.features.get("clip")
        if clip is not None and self._clip_model:
            # The worker's CLIP embedding joins this index's cache, as a local scan's does.
            emb = np.asarray(clip, np.float32).tobytes()
            store_clip(db, [(info.content_hash, self._clip_model, emb)])


def record_versions(index: Index) -> Callable[[dict[str, str]], None]:
    """Stores the cluster's model versions in the index (``compute_models`` in ``meta``)."""
    import json

    def record(versions: dict[str, str]) -> None:
        index.write(lambda db: set_meta(db, "compute_models", json.dumps(versions, sort_keys=True)))

    return record


def offload_stages(
    local: Sequence[Stage],
    index: Index,
    compute: ComputeConfig,
    pool: Callable[[], WorkerPool],
    catalog: ConceptCatalog,
    *,
    limits: DecodeLimits,
    read_workers: int,
    clip_model: str | None,
) -> list[Stage]:
    """The driver's stages for ``compute.backend: ray`` from the local ones (ingest first,
    index last, the model stages between them: those run on the workers, or here when the
    cluster cannot be reached)."""
    offload = OffloadStage(
        compute,
        pool,
        local[1:-1],
        catalog,
        index.concepts.rejected_on,
        limits,
        record_versions(index),
    )
    return [ReadStage(index, limits, read_workers), offload, CommitStage(index, clip_model)]
