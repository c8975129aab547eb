"""The live folder watcher: file-system events in, queued INDEX / MOVE / DELETE jobs out.

One observer per root (inotify, or polling where inotify ran out or ``force_polling`` asks),
one :class:`~photod.watch.events.EventRouter` that records what matters in a
:class:`~photod.watch.settle.Settler`, and one settle thread that queues what is due through
the index and wakes the daemon loop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlite_utils
from watchdog.observers.api import BaseObserver

from photod.config import LibraryConfig
from photod.index import Index, jobs
from photod.index.queries import holds_version
from photod.watch.events import EventRouter
from photod.watch.filters import PathFilter
from photod.watch.observers import (
    ObserverFactory,
    fix_for,
    is_exhaustion,
    native_observer,
    polling_observer,
    stop_quietly,
)
from photod.watch.reconcile import reconcile
from photod.watch.settle import Op, Ready, Settler

log = logging.getLogger(__name__)


def _unchanged(db: sqlite_utils.Database, ready: Ready) -> bool:
    """The index already holds this exact file version (e.g. photod's own metadata write)."""
    # A failure with the same stat is not retried either (as in reconcile).
    return ready.stat is not None and holds_version(db, ready.path, ready.stat)


def queue_jobs(db: sqlite_utils.Database, ops: list[Op], ready: list[Ready]) -> int:
    """Queue the moves and deletions, then the settled changes; return how many were queued."""
    queued = 0
    for op in ops:
        payload = {"src": op.src} if op.kind == jobs.MOVE else None
        queued += jobs.enqueue(db, op.kind, op.path, payload)
    for item in ready:
        if not _unchanged(db, item):
            queued += jobs.enqueue(db, jobs.INDEX, item.path)
    return queued


class LibraryWatcher:
    """Watches every photo root (recursive) and turns file-system events into queued jobs."""

    def __init__(
        self,
        library: LibraryConfig,
        index: Index,
        *,
        wake: Callable[[], None] = lambda: None,
        extra_roots: Sequence[Path] = (),
        clock: Callable[[], float] = time.monotonic,
        poll_interval: float = 2.0,
        observer_factory: ObserverFactory = native_observer,
    ) -> None:
        """``poll_interval``: seconds between snapshots of a polled root;
        ``observer_factory``: builds a root's inotify observer (tests pass a limited one)."""
        roots = dict.fromkeys(os.path.abspath(str(r)) for r in [*library.roots, *extra_roots])
        self._roots = list(roots)
        # The filter (and a runtime reconcile) must know the extra roots too, or their paths
        # would be judged from "/" (a hidden parent folder would hide everything).
        self._library = library.model_copy(update={"roots": [Path(r) for r in self._roots]})
        self._index = index
        self._wake = wake
        self._clock = clock
        self._poll_interval = poll_interval
        self._factory = observer_factory
        self._settler = Settler(library.debounce_seconds, library.settle_seconds)
        self._kick = threading.Event()
        self._router = EventRouter(
            PathFilter(self._library),
            self._settler,
            clock=clock,
            follow_symlinks=library.follow_symlinks,
            notify=self._nudge,
        )
        self._lock = threading.Lock()
        self._observers: dict[str, BaseObserver] = {}
        self._polling: list[str] = []
        self._real: dict[str, str] = {}  # root -> the real folder watched
        self._exhausted: dict[str, OSError] = {}  # roots whose inotify ran out (any thread)
        self._warned = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = True  # the settle thread sleeps until kicked (nothing pending)

    @property
    def polling_roots(self) -> list[Path]:
        """The roots watched by polling (inotify ran out, or ``force_polling``)."""
        with self._lock:
            return [Path(r) for r in self._polling]

    def start(self) -> None:
        """Start an observer per root and the settle thread."""
        if self._thread is not None:
            return
        self._stopping.clear()
        for root in self._roots:
            self._watch(root)
        self._thread = threading.Thread(target=self._run, name="photod-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the observers and the settle thread; queue the moves and deletions still held.

        Changes still settling are dropped: the next start-up reconcile finds them.
        Call it before the index is closed. Idempotent.
        """
        self._stopping.set()
        self._kick.set()
        with self._lock:
            observers, self._observers = list(self._observers.values()), {}
            self._polling, self._exhausted = [], {}  # a later start() decides afresh
        for observer in observers:
            stop_quietly(observer)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self._flush(self._settler.drain_ops(), [])

    def _watch(self, root: str) -> None:
        if not os.path.isdir(root):
            if not self._library.create_missing_roots:
                log.warning("photo folder %s does not exist; not watching it", root)
                return
            os.makedirs(root, exist_ok=True)
        # A root that is a symlink is watched through its real path (inotify would watch the
        # link itself); the router maps event paths back to the configured root.
        self._real[root] = os.path.realpath(root)
        self._router.add_root(root, self._real[root])
        if self._library.force_polling:
            self._start_polling(root)
            return
        observer: BaseObserver | None = None
        try:
            observer = self._factory(lambda exc, root=root: self._on_exhausted(root, exc))
            # Symlinks are never followed live: watchdog would chase a symlink loop and report
            # photos under looping paths (a/loop/a/loop/...). With ``follow_symlinks`` the
            # linked folders are covered by reconcile's rescans, which detect loops.
            observer.schedule(self._router, self._real[root], recursive=True)
            observer.start()
        except OSError as exc:
            stop_quietly(observer)
            if not is_exhaustion(exc):
                log.error("cannot watch %s: %s; only rescans will see its changes", root, exc)
                return
            self._exhausted.setdefault(root, exc)
            observer = None
        with self._lock:
            if observer is not None:
                self._observers[root] = observer
        if root in self._exhausted:  # the root, or some folder below it, got no watch
            self._fall_back(root)

    def _on_exhausted(self, root: str, exc: OSError) -> None:
        # Called from whichever thread added the watch; the settle thread does the switch.
        with self._lock:
            self._exhausted.setdefault(root, exc)
        self._kick.set()

    def _nudge(self) -> None:
        # Wake the settle thread only when it sleeps without a timeout: otherwise it wakes on
        # time anyway, and a big copy (thousands of write events) would keep it spinning.
        if self._idle:
            self._kick.set()

    def _start_polling(self, root: str) -> None:
        observer = polling_observer(self._poll_interval)
        observer.schedule(self._router, self._real[root], recursive=True)
        observer.start()
        with self._lock:
            self._observers[root] = observer
            self._polling.append(root)

    def _fall_back(self, root: str) -> None:
        """Replace ``root``'s inotify observer by a polling one; warn once per watcher."""
        with self._lock:
            if root in self._polling:
                return
            old = self._observers.pop(root, None)
        stop_quietly(old)  # frees the watches it did get, for other roots and programs
        try:
            self._start_polling(root)
        except OSError as err:
            log.error("cannot poll %s: %s; only rescans will see its changes", root, err)
            with self._lock:
                self._exhausted.pop(root, None)
            return
        exc = self._exhausted[root]
        if self._warned:
            log.info("inotify limit reached for %s too: polling it", root)
            return
        self._warned = True
        log.warning(
            "cannot watch %s with inotify (%s): falling back to polling it every %.3g s, which "
            "is slower and reads the disk. To fix, raise the limit and restart photod: %s",
            root,
            exc.strerror or exc,
            self._poll_interval,
            fix_for(exc),
        )

    def _switch_late_exhaustion(self) -> None:
        """A folder created while running got no watch: poll its root, and catch up on it."""
        with self._lock:
            late = [r for r in self._exhausted if r not in self._polling]
        for root in late:
            if self._stopping.is_set():
                return
            self._fall_back(root)
            # Changes between the failed watch and the first snapshot would go unseen.
            result = reconcile(self._index, self._library, paths=[Path(root)])
            if result.queued or result.deleted:
                self._wake()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._switch_late_exhaustion()
                ops, ready = self._settler.due(self._clock())
                if ops or ready:
                    self._flush(ops, ready)
            except Exception:
                log.exception("file watcher error; the next rescan will catch up")
            # Idle first, then look: a change recorded in between either is seen by
            # next_check or finds the flag set and kicks.
            self._idle = True
            wait = self._settler.next_check(self._clock())
            if wait is not None:
                self._idle = False
            self._kick.wait(timeout=wait)
            self._kick.clear()

    def _flush(self, ops: list[Op], ready: list[Ready]) -> None:
        if not ops and not ready:
            return
        try:
            queued = self._index.write(lambda db: queue_jobs(db, ops, ready))
        except Exception:
            log.exception(
                "cannot queue %d file changes; the next rescan will find them",
                len(ops) + len(ready),
            )
            return
        if queued:
            self._wake()
