"""Reading a photo file safely: never block, never follow a loop, say why a file is unusable.

The file is opened *before* it is inspected (``O_NONBLOCK``, then ``fstat`` on the open
descriptor), so a FIFO or device that replaces a photo between a directory walk and the read
is refused instead of hanging the ingest thread forever.
"""

from __future__ import annotations

import errno
import os
import stat

from photod.errors import PhotoError
from photod.fsutil import stat_version

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def fail(reason: str, st: os.stat_result | None = None) -> PhotoError:
    """A per-photo error of the ingest stage (about the file version ``st``, if known)."""
    return PhotoError(reason, stage="ingest", version=stat_version(st))


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _open_error(path: str | os.PathLike[str], exc: OSError) -> PhotoError:
    if exc.errno == errno.ELOOP:
        return fail("symbolic link loop: the link points (indirectly) to itself")
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            return fail("broken symbolic link: its target does not exist")
        return fail("file disappeared before it could be read")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return fail("permission denied: photod cannot read this file (check its permissions)")
    return fail(f"cannot open file: {exc.strerror or exc}")


def read_file(path: str | os.PathLike[str], max_bytes: int) -> tuple[bytes, os.stat_result]:
    """Return the whole file's bytes and its ``stat`` (the hash and the decoder share them).

    Raises :class:`PhotoError` for anything that is not a readable, non-empty regular file of
    at most ``max_bytes``.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _open_error(path, exc) from exc
    st: os.stat_result | None = None  # None until fstat answers
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise fail(f"not a photo file: {_kind(st.st_mode)}", st)
        if st.st_size == 0:
            raise fail("empty file (0 bytes)", st)
        if st.st_size > max_bytes:
            mib, limit = st.st_size / 2**20, max_bytes / 2**20
            raise fail(f"file too large ({mib:.0f} MiB > {limit:.0f} MiB limit)", st)
        chunks: list[bytes] = []
        remaining = max_bytes + 1  # a file that grows while we read must still be bounded
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise fail("not a photo file: a directory") from exc
        raise fail(f"cannot read file: {exc.strerror or exc}", st) from exc
    finally:
        os.close(fd)
    data = b"".join(chunks) if len(chunks) != 1 else chunks[0]
    if len(data) > max_bytes:
        limit = max_bytes / 2**20
        raise fail(f"file too large (grew past the {limit:.0f} MiB limit while read)", st)
    assert st is not None  # fstat answered, or we raised above
    if not data:
        raise fail("empty file (0 bytes)", st)
    return data, st
