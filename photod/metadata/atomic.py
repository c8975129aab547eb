"""Atomic file replacement that refuses to lose anybody's edit.

The new content goes to a temporary file in the same folder (so the rename cannot cross a
filesystem), is flushed to disk, takes the original's permissions (and, if asked, its mtime),
and is renamed over the original. Killed at any moment, the original is either untouched or
entirely replaced; a leftover temporary file matches the library's ``*.photod-tmp*`` ignore.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import secrets
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TMP_MARKER = ".photod-tmp"


class FileChanged(Exception):
    """The file changed (or appeared) after photod read it: writing would lose that edit."""


class ReadOnly(Exception):
    """The file or its folder is read-only: the user does not want it modified."""


@dataclass(frozen=True)
class Snapshot:
    """What a file looked like when it was read (None fields: it did not exist)."""

    size: int | None
    mtime_ns: int | None
    inode: int | None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    atime_ns: int | None = None

    @classmethod
    def of(cls, st: os.stat_result | None) -> Snapshot:
        """The snapshot of a stat result (None for a missing file)."""
        if st is None:
            return cls(None, None, None)
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, stat.S_IMODE(st.st_mode),
                   st.st_uid, st.st_gid, st.st_atime_ns)  # fmt: skip

    def same_file(self, other: Snapshot) -> bool:
        """Same size, mtime and inode (or both missing)."""
        return (self.size, self.mtime_ns, self.inode) == (other.size, other.mtime_ns, other.inode)


def read(path: Path) -> tuple[bytes | None, Snapshot]:
    """The file's bytes and snapshot, taken from one open file (None if it does not exist)."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except FileNotFoundError:
        return None, Snapshot.of(None)
    return data, Snapshot.of(st)


def _stat(path: Path) -> Snapshot:
    try:
        return Snapshot.of(os.stat(path))
    except FileNotFoundError:
        return Snapshot.of(None)


def check_writable(path: Path, snapshot: Snapshot) -> None:
    """Raise :class:`ReadOnly` for a read-only file or folder.

    Mode bits are checked as well as access(): root may write anything, but a file or folder
    without write permission still says "leave me alone".
    """
    folder = path.parent
    if not os.access(folder, os.W_OK) or not os.stat(folder).st_mode & 0o222:
        raise ReadOnly(f"folder {folder} is read-only")
    if snapshot.mode is not None and (not snapshot.mode & 0o222 or not os.access(path, os.W_OK)):
        raise ReadOnly(f"{path.name} is read-only")


def replace(
    path: Path,
    data: bytes,
    snapshot: Snapshot,
    *,
    keep_mtime: bool = False,
    default_mode: int = 0o644,
    before_rename: Callable[[Path], None] | None = None,
) -> Snapshot:
    """Atomically replace ``path`` (read as ``snapshot``) with ``data``; return the new state.

    Raises :class:`ReadOnly`, :class:`FileChanged`, or OSError (disk full, ...); in every case
    the original is intact and the temporary file removed. ``before_rename`` is a test hook.
    """
    check_writable(path, snapshot)
    _sweep_stale(path)
    tmp = path.with_name(f".{path.name}{TMP_MARKER}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), snapshot.mode if snapshot.mode is not None else default_mode)
            owner = (snapshot.uid, snapshot.gid)
            if snapshot.uid is not None and owner != (os.getuid(), os.getgid()):
                with contextlib.suppress(PermissionError):  # only root may give files away
                    os.fchown(f.fileno(), snapshot.uid, snapshot.gid)  # type: ignore[arg-type]
            if keep_mtime and snapshot.mtime_ns is not None:
                os.utime(f.fileno(), ns=(snapshot.atime_ns or snapshot.mtime_ns, snapshot.mtime_ns))
            os.fsync(f.fileno())
        if before_rename is not None:
            before_rename(tmp)
        # The narrowest window photod can give: compare right before the rename.
        if not _stat(path).same_file(snapshot):
            raise FileChanged(f"{path.name} changed while photod was writing it")
        new_state = Snapshot.of(os.stat(tmp))  # rename keeps size and mtime
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return new_state


def _sweep_stale(path: Path, max_age_seconds: float = 3600.0) -> None:
    """Delete temporary files an earlier, killed write of ``path`` left behind.

    Only old ones: a younger one may belong to a write in progress in another process.
    """
    for leftover in path.parent.glob(f".{glob.escape(path.name)}{TMP_MARKER}-*"):
        with contextlib.suppress(OSError):
            # ctime, not mtime: a keep_mtime write gives its temporary file an old mtime.
            if time.time() - leftover.stat().st_ctime > max_age_seconds:
                leftover.unlink()
                log.info("removed %s, left by an interrupted write", leftover.name)


def remove(path: Path, snapshot: Snapshot) -> None:
    """Delete ``path`` if it is still what was read; :class:`FileChanged` otherwise."""
    check_writable(path, snapshot)
    if not _stat(path).same_file(snapshot):
        raise FileChanged(f"{path.name} changed while photod was writing it")
    path.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse to open a folder: harmless.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        log.debug("fsync of folder %s not supported", folder)
    finally:
        os.close(fd)
