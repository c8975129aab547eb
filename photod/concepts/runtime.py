"""The concept machinery of a running daemon: scheduled retraining and the examples folder.

The daemon builds one :class:`ConceptRuntime` after its app and processor, calls
:meth:`ConceptRuntime.start` and, at shutdown or reload, :meth:`ConceptRuntime.stop`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from photod.concepts.examples_folder import ExamplesWatcher, sync_examples_folder

log = logging.getLogger(__name__)


class ConceptRuntime:
    """The app's training scheduler + an examples-folder watcher (:class:`photod.app.App`)."""

    def __init__(self, app, wake: Callable[[], None] | None = None, *, sync_seconds: float = 5):
        self._app = app
        self._wake = wake or (lambda: None)
        self._sync_seconds = sync_seconds
        self.scheduler = app.scheduler
        self.folder = app.config.examples_dir
        self.watcher = ExamplesWatcher(self.folder, self.examples_changed)

    def examples_changed(self) -> list[int]:
        """Sync the examples folder into the index and schedule what changed."""
        cfg = self._app.config
        changed = self._app.index.write(
            lambda db: sync_examples_folder(db, self.folder, cfg.library.extensions, cfg.concepts)
        )
        if changed:
            self.scheduler.sync()
        return changed

    def start(self) -> ConceptRuntime:
        """Start watching the examples folder and scheduling training."""
        self.watcher.start()
        # Re-run jobs were queued after a training: let the loop claim them.
        self.scheduler.start(on_trained=self._wake, sync_seconds=self._sync_seconds)
        self.examples_changed()  # what changed while photod was not running
        return self

    def stop(self) -> None:
        """Stop both (a training in progress stays queued for the next start)."""
        self.watcher.stop()
        self.scheduler.shutdown()
