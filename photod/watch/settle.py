"""Holding file-system changes until they are quiet: debounce and "wait until the file settles".

A :class:`Settler` is pure bookkeeping: the watcher's event handler records changes, moves and
deletions in it, and the watcher's settle thread asks it, with the current time, what is due.
Time is always passed in (``now``), so tests drive it without sleeping or patching clocks.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass

from photod.fsutil import version_stat
from photod.index import jobs

# A burst of moves/deletes is flushed only after this much quiet (at least), so that a folder
# move and the per-file moves that watchdog reports with it always land in the same batch.
MIN_QUIET = 0.05
# ...but a never-ending stream of moves must not hold the queue back forever.
MAX_HOLD = 30.0


@dataclass
class _Change:
    last_event: float
    stat: tuple[int, int] | None = None
    stable_since: float = 0.0


@dataclass(frozen=True)
class Op:
    """A move or deletion to queue as it is (no settling: the file's content did not change)."""

    kind: str  # jobs.MOVE or jobs.DELETE
    path: str  # the destination of a move, the deleted path
    src: str | None = None
    is_dir: bool = False


@dataclass(frozen=True)
class Ready:
    """A changed photo that stopped changing; ``stat`` is (size, mtime_ns), None if unknown."""

    path: str
    stat: tuple[int, int] | None


def under(path: str, folder: str) -> bool:
    """Whether ``path`` lies strictly below ``folder``."""
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _rebase(path: str, src: str, dst: str) -> str | None:
    if path == src:
        return dst
    if under(path, src):
        return dst.rstrip(os.sep) + path[len(src.rstrip(os.sep)) :]
    return None


def collapse(ops: list[Op]) -> list[Op]:
    """Drop the moves and deletions that a folder move or deletion in the same batch implies.

    watchdog reports a folder move together with one move per entry below it (and ``rm -r`` as
    one deletion per file, then the folder). The folder's job covers them; worse, a file MOVE
    queued after its folder's MOVE would find its destination row already moved there.
    """
    dir_moves = [(o.src, o.path) for o in ops if o.kind == jobs.MOVE and o.is_dir and o.src]
    dir_deletes = [o.path for o in ops if o.kind == jobs.DELETE and o.is_dir]
    out: list[Op] = []
    for op in ops:
        if op.kind == jobs.DELETE and any(under(op.path, d) for d in dir_deletes):
            continue
        if (
            op.kind == jobs.MOVE
            and op.src
            and any(under(op.src, s) and _rebase(op.src, s, d) == op.path for s, d in dir_moves)
        ):
            continue
        out.append(op)
    return out


class Settler:
    """Debounces changes and waits until each changed file keeps its size and mtime.

    Thread-safe: the observer threads record, the settle thread collects.
    """

    def __init__(
        self,
        debounce: float,
        settle: float,
        *,
        stat_fn: Callable[[str], os.stat_result | None] = version_stat,
    ) -> None:
        """``stat_fn`` returns None for a file that is gone (default: the index's version stat)."""
        self.debounce = debounce
        self.settle = settle
        self._stat = stat_fn
        self._lock = threading.Lock()
        self._changes: dict[str, _Change] = {}
        self._ops: list[Op] = []
        self._ops_first = 0.0
        self._ops_last = 0.0
        # How often a settling file is stat'ed again: often enough to be on time, not busy.
        self.recheck = max(0.02, min(settle / 4, 0.5))

    def change(self, path: str, now: float) -> None:
        """``path`` was created or written: (re)start its debounce."""
        with self._lock:
            entry = self._changes.get(path)
            if entry is None:
                self._changes[path] = _Change(last_event=now)
            else:
                # A new write restarts the settle time even if size and mtime look the same
                # (coarse timestamps can hide a write).
                entry.last_event, entry.stat = now, None

    def delete(self, path: str, now: float, *, is_dir: bool = False) -> None:
        """``path`` (a photo or a folder) is gone: forget its pending changes, queue a DELETE."""
        with self._lock:
            for p in [p for p in self._changes if p == path or under(p, path)]:
                del self._changes[p]
            self._add_op(Op(jobs.DELETE, path, is_dir=is_dir), now)

    def move(self, src: str, dst: str, now: float, *, is_dir: bool = False) -> None:
        """``src`` was renamed to ``dst``: pending changes follow it, a MOVE is queued."""
        with self._lock:
            for p in list(self._changes):
                new = _rebase(p, src, dst)
                if new is not None:
                    self._changes[new] = self._changes.pop(p)
            self._add_op(Op(jobs.MOVE, dst, src=src, is_dir=is_dir), now)

    def _add_op(self, op: Op, now: float) -> None:
        if not self._ops:
            self._ops_first = now
        self._ops.append(op)
        self._ops_last = now

    def _ops_due(self, now: float) -> bool:
        quiet = max(self.debounce, MIN_QUIET)
        return bool(self._ops) and (
            now - self._ops_last >= quiet or now - self._ops_first >= MAX_HOLD
        )

    def due(self, now: float) -> tuple[list[Op], list[Ready]]:
        """The ops whose burst is over and the changed files that have settled, in order."""
        with self._lock:
            ops: list[Op] = []
            if self._ops_due(now):
                ops, self._ops = collapse(self._ops), []
            ready: list[Ready] = []
            for path, entry in list(self._changes.items()):
                if now - entry.last_event < self.debounce:
                    continue
                st = self._stat(path)
                if st is None or stat.S_ISDIR(st.st_mode):
                    # Gone again (its deletion event does the rest), or a folder named like a
                    # photo. A dangling link or a loop is kept: ingest records why it fails.
                    del self._changes[path]
                    continue
                current = (st.st_size, st.st_mtime_ns)
                if current != entry.stat:
                    entry.stat, entry.stable_since = current, now
                    if self.settle > 0:
                        continue
                if now - entry.stable_since >= self.settle:
                    del self._changes[path]
                    ready.append(Ready(path, current))
            return ops, ready

    def next_check(self, now: float) -> float | None:
        """Seconds until :meth:`due` may have something new; None when nothing is pending."""
        with self._lock:
            waits: list[float] = []
            if self._ops:
                quiet = max(self.debounce, MIN_QUIET)
                waits.append(min(self._ops_last + quiet, self._ops_first + MAX_HOLD) - now)
            for entry in self._changes.values():
                left = entry.last_event + self.debounce - now
                waits.append(left if left > 0 else self.recheck)
            return max(0.0, min(waits)) if waits else None

    def drain_ops(self) -> list[Op]:
        """Every pending move and deletion, now (at shutdown: they need no settling)."""
        with self._lock:
            ops, self._ops = collapse(self._ops), []
            return ops

    def pending(self) -> int:
        """How many changes and ops are held."""
        with self._lock:
            return len(self._changes) + len(self._ops)
