"""The labelled-examples folder: ``<examples_dir>/<Concept name>/*.jpg``.

Dropping a photo into a concept's folder adds it as an example; deleting it removes it. A
folder whose name is no concept yet is left alone (create the concept with
`photod concept add`, which also creates its folder). Every change schedules a retraining.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from photod.concepts.scheduler import request_training
from photod.config import ConceptsConfig
from photod.humantime import relative
from photod.index.concepts import add_example, list_concepts, list_examples, remove_example

log = logging.getLogger(__name__)


def sync_examples_folder(
    db: sqlite_utils.Database, folder: Path, extensions: list[str], cfg: ConceptsConfig
) -> list[int]:
    """Mark-and-sweep the folder against the folder-sourced examples; return changed ids."""
    changed = []
    subdirs = (
        {p.name.casefold(): p for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else {}
    )
    for concept in list_concepts(db):
        d = subdirs.get(concept.name.casefold())
        on_disk = (
            {
                str(p)
                for p in d.iterdir()
                if p.is_file() and p.suffix.lower() in extensions and not p.name.startswith(".")
            }
            if d
            else set()
        )
        known = {e.path for e in list_examples(db, concept.id) if e.source == "folder"}
        added = [
            p for p in sorted(on_disk - known) if add_example(db, concept.id, p, source="folder")
        ]
        removed = [p for p in sorted(known - on_disk) if remove_example(db, concept.id, p)]
        if added or removed:
            due = request_training(db, concept.id, cfg)
            log.info(
                "examples folder: %s +%d -%d; retraining %s",
                concept.name,
                len(added),
                len(removed),
                relative(due),
            )
            changed.append(concept.id)
    return changed


class ExamplesWatcher:
    """Watches the examples folder (watchdog) and calls ``on_change`` after a quiet period."""

    def __init__(self, folder: Path, on_change: Callable[[], None], debounce: float = 1.0):
        self._folder = folder
        self._on_change = on_change
        self._debounce = debounce
        self._observer = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def _event(self, _event: object = None) -> None:
        # Copying a photo in produces several events: act once, after they settle.
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self._debounce, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        try:
            self._on_change()
        except Exception:
            log.exception("examples folder sync failed")

    def start(self) -> ExamplesWatcher:
        """Start watching (the folder is created owner-only if missing)."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        from photod.index.db import ensure_private_dir

        ensure_private_dir(self._folder)
        handler = FileSystemEventHandler()
        handler.on_any_event = self._event  # type: ignore[method-assign]
        self._observer = Observer()
        self._observer.schedule(handler, str(self._folder), recursive=True)
        self._observer.start()
        return self

    def stop(self) -> None:
        """Stop watching."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
