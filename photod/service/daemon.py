"""The daemon: watch, reconcile, process the queue, talk to systemd; stop and reload cleanly.

Signal handlers only set flags; the main loop acts on them between steps. :meth:`Daemon.step`
takes ``now`` so that tests drive the schedule without a patched clock.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from photod.app import App, build_app
from photod.concepts.runtime import ConceptRuntime
from photod.config import Config
from photod.errors import PhotodError
from photod.processor import JobProcessor
from photod.service.notify import Notifier
from photod.watch.reconcile import reconcile
from photod.watch.watcher import LibraryWatcher

log = logging.getLogger(__name__)


class Daemon:
    """One photod service process."""

    def __init__(self, load_config: Callable[[], Config], notifier: Notifier | None = None) -> None:
        self._load_config = load_config
        self.notifier = notifier or Notifier()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._wake = threading.Event()
        self._cancel_reconcile = threading.Event()
        self._reconcile_thread: threading.Thread | None = None
        self.app: App | None = None
        self.processor: JobProcessor | None = None
        self.watcher: LibraryWatcher | None = None
        self.concepts: ConceptRuntime | None = None
        self.web = None  # photod.web.server.WebServer when web.enabled
        self._next_rescan = self._next_watchdog = self._next_status = 0.0
        self._idle_since_purge = False
        #: A reload waiting for photos stuck past the drain timeout (see :meth:`reload`).
        self._pending_config: Config | None = None

    # -- signals -------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop (draining in-flight work), SIGHUP reloads the configuration.

        SIGUSR1 writes every thread's stack to stderr (the journal): how to see what a
        stuck daemon is doing without stopping it.
        """
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
        signal.signal(signal.SIGINT, lambda *_: self.request_stop())
        signal.signal(signal.SIGHUP, lambda *_: self.request_reload())

    def request_stop(self) -> None:
        """Ask the loop to stop after the photos in progress."""
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Ask the loop to reload the configuration."""
        self._reload.set()
        self._wake.set()

    # -- lifecycle -----------------------------------------------------------------------
    def run(self) -> int:
        """Start, loop until stopped, shut down; return the exit status."""
        self.install_signal_handlers()
        self.start(self._load_config())
        self.notifier.ready(self._status_line())
        try:
            while not self._stop.is_set():
                self.step(time.monotonic())
        finally:
            self.shutdown()
        return 0

    def start(self, config: Config) -> None:
        """Build the app, recover the queue, start the watcher and the start-up reconcile."""
        self.app = build_app(config)
        index = self.app.index
        self.processor = self.app.processor().start()
        index.meta.set("daemon_state", f"running (pid {os.getpid()})")
        # Scheduled retraining and the labelled-examples folder (it has its own watcher:
        # an example is not a library photo).
        self.concepts = ConceptRuntime(self.app, wake=self._wake.set).start()
        self.watcher = self.app.library_watcher(self._wake.set)
        self.watcher.start()
        polling = json.dumps([str(p) for p in self.watcher.polling_roots])
        index.meta.set("polling_roots", polling)
        self._start_reconcile()
        if config.web.enabled:
            # Imported only when enabled: the daemon does not need the web stack otherwise.
            from photod.web.server import WebServer

            self.web = WebServer(self.app, config.web).start()
        now = time.monotonic()
        self._next_rescan = self._rescan_after(now)
        self._next_status = now

    def _rescan_after(self, now: float) -> float:
        minutes = self.app.config.library.rescan_interval_minutes if self.app else 0
        return now + minutes * 60 if minutes else float("inf")

    def _start_reconcile(self) -> None:
        if self._reconcile_thread and self._reconcile_thread.is_alive():
            return  # one pass at a time; a missed rescan is skipped, not replayed
        app = self.app
        assert app is not None
        self._cancel_reconcile.clear()

        def work() -> None:
            try:
                result = reconcile(app.index, app.config.library, cancel=self._cancel_reconcile)
                log.info(
                    "reconcile: %d photos seen, %d queued, %d gone",
                    result.seen,
                    result.queued,
                    result.deleted,
                )
            except Exception:
                log.exception("reconcile failed")
            self._wake.set()

        self._reconcile_thread = threading.Thread(target=work, name="photod-reconcile", daemon=True)
        self._reconcile_thread.start()

    def step(self, now: float) -> None:
        """One turn of the loop: reload if asked, feed the pipeline, keep systemd informed."""
        if self._reload.is_set():
            self._reload.clear()
            self.reload()
        if self._pending_config is not None and not self._finish_reload(0):
            self._wake.wait(timeout=0.5)  # nothing is claimed while a reload waits
            self._wake.clear()
            return
        assert self.processor is not None and self.app is not None
        claimed = self.processor.pump()
        if self.notifier.watchdog_interval and now >= self._next_watchdog:
            self.notifier.watchdog()
            self._next_watchdog = now + self.notifier.watchdog_interval / 2
        if now >= self._next_status:
            self.notifier.status(self._status_line())
            self._next_status = now + self.app.config.service.status_interval_seconds
        if now >= self._next_rescan:
            self._start_reconcile()
            self._next_rescan = self._rescan_after(now)
        self.app.models.tick(now)  # idle models give their memory back
        if claimed:
            self._idle_since_purge = False
            return
        if self.processor.in_flight == 0 and not self._idle_since_purge and not self._reconciling:
            # The queue drained: photos still missing now were really deleted, not moved.
            removed = self.processor.purge_missing()
            if removed:
                log.info("removed %d deleted photo(s) from the index", removed)
            self._idle_since_purge = True
        self._wake.wait(timeout=0.5)
        self._wake.clear()

    @property
    def _reconciling(self) -> bool:
        return bool(self._reconcile_thread and self._reconcile_thread.is_alive())

    def _status_line(self) -> str:
        if not self.app or not self.processor:
            return "starting"
        queued = self.app.index.jobs.counts().get("queued", 0)
        return (
            f"{self.processor.done} indexed, {self.processor.failed} failed, "
            f"{queued} queued, {self.processor.in_flight} in progress"
        )

    def reload(self) -> None:
        """Re-read the configuration and rebuild everything; keep running on a bad config.

        The old app (and its index writer) is closed before the new one starts. Photos still
        in progress after ``service.drain_timeout_seconds`` are waited for, without claiming
        new ones: two index writers never live at once.
        """
        self.notifier.reloading()
        try:
            config = self._load_config()
        except PhotodError as exc:
            log.error("configuration reload failed, keeping the old one: %s", exc)
            self.notifier.ready(self._status_line())
            return
        log.info("reloading configuration")
        self._stop_feeding()
        self._pending_config = config
        timeout = self.app.config.service.drain_timeout_seconds if self.app else 0
        self._finish_reload(timeout)

    def _finish_reload(self, timeout: float) -> bool:
        """Start the pending configuration once the old pipeline is idle; False if not yet."""
        if not self._close_processing(timeout):
            if timeout:
                log.warning(
                    "photos still in progress after %.0f s; the reload waits for them", timeout
                )
            return False
        config, self._pending_config = self._pending_config, None
        self.start(config)
        self.notifier.ready(self._status_line())
        return True

    def _stop_feeding(self) -> None:
        """Stop everything that queues or trains: scheduler, examples, watcher, reconcile."""
        if self.concepts:
            self.concepts.stop()
            self.concepts = None
        self._cancel_reconcile.set()
        if self.watcher:
            self.watcher.stop()
        if self._reconcile_thread:
            self._reconcile_thread.join()

    def _close_processing(self, timeout: float | None) -> bool:
        """Drain the pipeline and close the app; False (nothing closed) if photos are still
        in progress after ``timeout``."""
        if self.processor:
            if not self.processor.wait_idle(timeout):
                return False
            self.processor.close()
            self.processor = None
        if self.web:
            self.web.stop()  # it uses the app's index: stop it before the index closes
            self.web = None
        if self.app:
            self.app.index.meta.set("daemon_state", "stopped")
            self.app.close()
            self.app = None
        return True

    def _stop_components(self) -> None:
        self._stop_feeding()
        timeout = self.app.config.service.drain_timeout_seconds if self.app else None
        if not self._close_processing(timeout):
            # Leave without joining the stuck stage: its jobs are still marked running in
            # the index and the next start re-queues them.
            log.warning("photos still in progress after %.0f s; they stay queued", timeout)

    def shutdown(self) -> None:
        """Stop watching, finish the photos in progress, close the index."""
        self.notifier.stopping()
        log.info("stopping: finishing photos in progress")
        self._stop_components()
        self.notifier.close()
        log.info("stopped")
