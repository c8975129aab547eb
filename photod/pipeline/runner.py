"""Running tasks through the stages.

:class:`ThreadedPipeline` connects the stages with bounded queues (back-pressure: a slow stage
stops the feeder instead of filling memory), each stage with its own worker threads.
:func:`run_sequential` is its twin for tests and one-off use: the same stage semantics,
one task at a time, no threads.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence

from photod.errors import PhotoError
from photod.pipeline.stage import Stage
from photod.pipeline.task import PhotoTask

log = logging.getLogger(__name__)

Finish = Callable[[PhotoTask], None]

_STOP = object()


def guarded(name: str, work: Callable[[PhotoTask], None], task: PhotoTask) -> None:
    """Run ``work`` (stage or listener ``name``) on ``task``; an exception becomes its error."""
    try:
        work(task)
    except PhotoError as exc:
        if exc.stage == "ingest" and name != "ingest":
            exc.stage = name
        task.error = exc
    except Exception as exc:  # a bug or a model failure must cost one photo, not the daemon
        log.exception("%s failed on %s", name, task.path)
        task.error = PhotoError(f"{type(exc).__name__}: {exc}", stage=name)


def run_stage(stage: Stage, task: PhotoTask) -> None:
    """Run one stage on one task, turning any exception into the task's :class:`PhotoError`."""
    if _wants(stage, task):
        guarded(stage.name, stage.process, task)


def _wants(stage: Stage, task: PhotoTask) -> bool:
    return task.error is None and (stage.runs_on_unchanged or not task.unchanged)


def run_stage_batch(stage: Stage, tasks: Sequence[PhotoTask]) -> None:
    """Run a batching stage (``process_batch``) on several tasks at once.

    A batch that fails as a whole is retried photo by photo, so that the error lands on the
    photo that caused it (``process_batch`` must change nothing when it raises).
    """
    todo = [t for t in tasks if _wants(stage, t)]
    if not todo:
        return
    if len(todo) == 1:
        run_stage(stage, todo[0])
        return
    try:
        stage.process_batch(todo)
    except Exception:
        log.warning(
            "stage %s failed on a batch of %d; retrying photo by photo", stage.name, len(todo)
        )
        for task in todo:
            run_stage(stage, task)


def run_sequential(stages: Sequence[Stage], tasks: Iterable[PhotoTask], finish: Finish) -> int:
    """Run each task through every stage in order, then ``finish`` it; return the count."""
    count = 0
    for task in tasks:
        for stage in stages:
            run_stage(stage, task)
        finish(task)
        count += 1
    return count


class ThreadedPipeline:
    """The stages connected by bounded queues, each stage with ``stage.workers`` threads.

    ``finish`` runs on the last queue's consumer thread for every task, failed or not.
    """

    def __init__(self, stages: Sequence[Stage], finish: Finish, *, queue_size: int = 8) -> None:
        self._stages = list(stages)
        self._finish = finish
        # queues[i] feeds stage i; the last queue feeds the finisher.
        self._queues: list[queue.Queue] = [
            queue.Queue(maxsize=queue_size) for _ in range(len(self._stages) + 1)
        ]
        self._threads: list[threading.Thread] = []
        self._alive = [0] * (len(self._stages) + 1)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)

    @property
    def in_flight(self) -> int:
        """Tasks put in and not yet finished."""
        with self._lock:
            return self._in_flight

    def start(self) -> ThreadedPipeline:
        """Start every stage's workers and the finisher."""
        for i, stage in enumerate(self._stages):
            workers = max(1, int(getattr(stage, "workers", 1)))
            self._alive[i] = workers
            for w in range(workers):
                t = threading.Thread(
                    target=self._work, args=(i, stage), name=f"photod-{stage.name}-{w}", daemon=True
                )
                self._threads.append(t)
        self._alive[-1] = 1
        self._threads.append(
            threading.Thread(target=self._finisher, name="photod-finish", daemon=True)
        )
        for t in self._threads:
            t.start()
        return self

    def put(self, task: PhotoTask, timeout: float | None = None) -> None:
        """Feed one task; blocks while the first queue is full (``queue.Full`` on timeout)."""
        with self._lock:
            self._in_flight += 1
        try:
            self._queues[0].put(task, timeout=timeout)
        except queue.Full:
            with self._lock:
                self._in_flight -= 1
            raise

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every task put in so far is finished."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def close(self) -> None:
        """Let the tasks already in the pipeline finish, then stop the threads."""
        first_workers = self._alive[0] if self._stages else 1
        for _ in range(first_workers):
            self._queues[0].put(_STOP)
        for t in self._threads:
            t.join()
        self._threads.clear()

    def _pass_stop(self, i: int) -> None:
        # The last worker of stage i to stop tells every worker of the next stage to stop.
        with self._lock:
            self._alive[i] -= 1
            last = self._alive[i] == 0
        if last:
            for _ in range(self._alive[i + 1]):
                self._queues[i + 1].put(_STOP)

    def _work(self, i: int, stage: Stage) -> None:
        inbox, outbox = self._queues[i], self._queues[i + 1]
        batch_size = max(1, int(getattr(stage, "batch_size", 1)))
        stopping = False
        while not stopping:
            task = inbox.get()
            if task is _STOP:
                break
            batch = [task]
            # Batch only what is already waiting: never hold a photo back to fill a batch.
            while len(batch) < batch_size:
                try:
                    more = inbox.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                batch.append(more)
            if len(batch) == 1:
                run_stage(stage, task)
            else:
                run_stage_batch(stage, batch)
            for done in batch:
                outbox.put(done)
        self._pass_stop(i)

    def _finisher(self) -> None:
        inbox = self._queues[-1]
        while True:
            task = inbox.get()
            if task is _STOP:
                return
            try:
                self._finish(task)
            except Exception:
                log.exception("finishing %s failed", task.path)
            finally:
                task.release()
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()
