"""Turning watchdog events into settler entries: what is a photo, a move, a create, a delete."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)

from photod.watch.filters import PathFilter, storable
from photod.watch.reconcile import walk_photos
from photod.watch.settle import Settler

log = logging.getLogger(__name__)

# Attribute changes count: `touch` and `cp -p`/rsync set the mtime with utimes(), which is
# reported only as an attribute change. Reading a photo (ingest) reports none of these.
EVENT_TYPE_ATTRIB = "attrib"  # watchdog >= 5; spelled out so an older one just never matches
_CHANGED = {EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED, EVENT_TYPE_CLOSED, EVENT_TYPE_ATTRIB}


class EventRouter(FileSystemEventHandler):
    """A watchdog handler that records photo changes, moves and deletions in a :class:`Settler`.

    A move from a name photod ignores (``x.jpg.part``, ``.tmp``, a hidden folder) to a photo
    name is the arrival of a new file; a move to an ignored name, the loss of the source.
    Non-UTF-8 names are skipped here: reconcile records them as failures.
    """

    def __init__(
        self,
        pfilter: PathFilter,
        settler: Settler,
        *,
        clock: Callable[[], float],
        follow_symlinks: bool = False,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._filter = pfilter
        self._settler = settler
        self._clock = clock
        self._follow = follow_symlinks
        self._notify = notify
        self._aliases: dict[str, str] = {}
        self._roots: set[str] = set()

    def photo(self, path: str) -> bool:
        """A path photod would index."""
        return storable(path) and self._filter.is_photo(path)

    def folder(self, path: str) -> bool:
        """A folder whose photos photod would index."""
        return storable(path) and not self._filter.ignored_path(path)

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Route one event; never raise (an exception would end the observer's thread)."""
        try:
            if self.route(event):
                self._notify()
        except Exception:
            log.exception("cannot handle %s", event)

    def route(self, event: FileSystemEvent) -> bool:
        """Record ``event``; True if it mattered to photod."""
        now = self._clock()
        kind, src, is_dir = event.event_type, self._shown(event.src_path), event.is_directory
        visible = self.folder if is_dir else self.photo
        if kind in _CHANGED:
            if is_dir:
                # Folder modifications are just entries coming and going; only a new folder
                # matters, and its content may have arrived before its watch did.
                return kind == EVENT_TYPE_CREATED and self._arrived_folder(src, now)
            if self.photo(src):
                self._settler.change(src, now)
                return True
            return False
        if kind == EVENT_TYPE_DELETED:
            if is_dir and src in self._roots:
                # More often an unmounted disk or a share that is down than a deleted library.
                log.warning(
                    "photo folder %s disappeared: its photos are kept until a rescan "
                    "finds them gone; restart photod to watch it again",
                    src,
                )
                return False
            if visible(src):
                self._settler.delete(src, now, is_dir=is_dir)
                return True
            return False
        if kind == EVENT_TYPE_MOVED:
            dst = self._shown(event.dest_path) if event.dest_path else ""
            src_ok, dst_ok = visible(src), bool(dst) and visible(dst)
            if src_ok and dst_ok:
                self._settler.move(src, dst, now, is_dir=is_dir)
            elif dst_ok:  # from an ignored or temporary name: a new file or folder
                if is_dir:
                    return self._arrived_folder(dst, now)
                self._settler.change(dst, now)
            elif src_ok:  # to an ignored name (or away): the source is gone
                self._settler.delete(src, now, is_dir=is_dir)
            return src_ok or dst_ok
        return False  # opened, closed without writing

    def add_root(self, root: str, real: str) -> None:
        """Events come from the folder ``real``: report them under the configured ``root``."""
        self._roots.add(root)
        if real != root:
            self._aliases[real] = root

    def _shown(self, path: bytes | str) -> str:
        # A root that is a symlink is watched through its real path (inotify does not follow
        # it), but photos are indexed under the configured path, as reconcile walks it.
        text = os.fsdecode(path)
        for real, shown in self._aliases.items():
            if text == real or text.startswith(real + os.sep):
                return shown + text[len(real) :]
        return text

    def _arrived_folder(self, folder: str, now: float) -> bool:
        if not self.folder(folder):
            return False
        found = False
        for path in walk_photos(Path(folder), self._filter, follow_symlinks=self._follow):
            if storable(path):
                self._settler.change(path, now)
                found = True
        return found
