"""Small file-system helpers shared by the reconcile, the watcher and the processor."""

from __future__ import annotations

import os


def version_stat(path: str | os.PathLike[str]) -> os.stat_result | None:
    """The stat that identifies this version of the file at ``path``, or None if it is gone.

    Falls back to the link's own stat when the target cannot be reached (a symlink loop, a
    dangling link), so that a failure recorded for such a path is not retried until the link
    itself changes.
    """
    try:
        return os.stat(path)
    except OSError:
        try:
            return os.lstat(path)
        except OSError:
            return None


def stat_version(st: os.stat_result | None) -> tuple[int, int] | None:
    """(size, mtime_ns): what identifies a file version in the index, None without a stat."""
    return (st.st_size, st.st_mtime_ns) if st is not None else None
