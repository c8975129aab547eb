"""Mark and sweep: bring the index in line with the folders (at start-up and periodically).

Every photo file found that is new or whose (size, mtime) differs from the index is queued;
every indexed photo no longer found is queued for deletion. Files that failed before and have
not changed are left alone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from photod.config import LibraryConfig
from photod.fsutil import stat_version, version_stat
from photod.index import Index, jobs
from photod.watch.filters import PathFilter, display, storable

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class ReconcileResult:
    """What one reconcile pass found."""

    seen: int = 0
    queued: int = 0
    deleted: int = 0
    unreadable: int = 0


def walk_photos(
    root: Path, pfilter: PathFilter, *, follow_symlinks: bool, unlisted: list[str] | None = None
) -> Iterator[str]:
    """Every photo path below ``root`` (deterministic order; symlink loops are not followed).

    Folders that exist but could not be listed are logged and appended to ``unlisted``.
    """
    visited: set[tuple[int, int]] = set()

    def onerror(exc: OSError) -> None:
        log.warning("cannot list %s: %s", exc.filename, exc.strerror)
        if unlisted is not None and not isinstance(exc, FileNotFoundError):
            unlisted.append(str(exc.filename))  # (a folder that vanished is really gone)

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=follow_symlinks):
        if follow_symlinks:
            try:
                st = os.stat(dirpath)
            except OSError:
                dirnames[:] = []
                continue
            if (st.st_dev, st.st_ino) in visited:
                dirnames[:] = []  # a symlink led back to a folder already walked
                continue
            visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not pfilter.ignored_name(d))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if pfilter.is_photo(path):
                yield path


def _below(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def _record_bad_name(index: Index, path: str, failed: dict[str, tuple]) -> None:
    """A non-UTF-8 file name cannot be stored: record it (shown escaped) as a failure."""
    shown = display(path)
    try:
        st: os.stat_result | None = os.stat(path, follow_symlinks=False)
    except OSError:
        st = None  # gone meanwhile
    if st is not None and failed.get(shown) == (st.st_size, st.st_mtime_ns):
        return  # recorded already: attempts must not grow with every rescan
    reason = "file name is not valid UTF-8; rename the file to index it"
    index.photos.record_failure(shown, "ingest", reason, version=stat_version(st))


def reconcile(
    index: Index,
    library: LibraryConfig,
    *,
    paths: list[Path] | None = None,
    force: bool = False,
    cancel: threading.Event | None = None,
) -> ReconcileResult:
    """Queue what changed under ``paths`` (default: every root) since the index last saw it.

    Deletions are swept only for the folders walked, and not at all when ``cancel`` was set
    (a partial walk must not delete anything); nor below a folder that could not be listed, nor
    for a missing root (an unmounted disk is not a deleted library). ``force`` queues every photo.
    """
    pfilter = PathFilter(library)
    photos, failed = index.photos.known_versions()
    result = ReconcileResult()
    pending: list[str] = []
    walked: list[str] = []
    unlisted: list[str] = []
    seen: set[str] = set()

    def flush() -> None:
        batch = list(pending)
        pending.clear()
        result.queued += index.jobs.enqueue_many(jobs.INDEX, batch)

    for top in paths or library.roots:
        top_s = os.path.abspath(str(top))
        if os.path.isfile(top_s):
            candidates = [top_s] if pfilter.is_photo(top_s) else []
        elif paths is None and not os.path.isdir(top_s):
            log.warning("photo folder %s is missing (unmounted?): its photos are kept", top_s)
            continue
        else:
            walked.append(top_s)
            candidates = walk_photos(
                Path(top_s), pfilter, follow_symlinks=library.follow_symlinks, unlisted=unlisted
            )
        for path in candidates:
            if cancel is not None and cancel.is_set():
                flush()
                return result
            result.seen += 1
            if not storable(path):
                result.unreadable += 1
                _record_bad_name(index, path, failed)
                seen.add(display(path))  # its failure row is kept, under the shown name
                continue
            seen.add(path)
            st = version_stat(path)
            state = (st.st_size, st.st_mtime_ns) if st else None
            if force or state is None or (photos.get(path) != state and failed.get(path) != state):
                pending.append(path)
                if len(pending) >= BATCH:
                    flush()
    flush()
    gone = [p for p in photos if p not in seen and _below(p, walked) and not _below(p, unlisted)]
    if gone:
        index.write(lambda db: [jobs.enqueue(db, jobs.DELETE, p) for p in gone])
    result.deleted = len(gone)
    # Failure records of files that are gone are stale: drop them with the files.
    stale = [p for p in failed if p not in seen and _below(p, walked)
             and not _below(p, unlisted) and not os.path.lexists(p)]  # fmt: skip
    if stale:
        index.photos.drop_failures(stale)
    return result
