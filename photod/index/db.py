"""Opening the SQLite index: owner-only files, WAL, pragmas, migrations."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import sqlite_utils

from photod.index.migrations import migrate

log = logging.getLogger(__name__)

OWNER_DIR = 0o700
OWNER_FILE = 0o600


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only; tighten it if it already exists."""
    path.mkdir(parents=True, exist_ok=True, mode=OWNER_DIR)
    if path.stat().st_mode & 0o077:
        path.chmod(OWNER_DIR)
    return path


def _touch_private(path: Path) -> None:
    # Create the file owner-only before SQLite does: SQLite gives the -wal and -shm files the
    # same permissions as the database file, so face embeddings never become world-readable.
    fd = os.open(path, os.O_CREAT | os.O_RDWR, OWNER_FILE)
    os.close(fd)
    path.chmod(OWNER_FILE)


def connect(
    path: Path, *, busy_timeout_ms: int = 10_000, readonly: bool = False
) -> sqlite_utils.Database:
    """Open the index at ``path`` with photod's pragmas (no migration; see :func:`open_index`)."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode (only an OS crash can lose
        # the last transactions), and much faster than FULL.
        conn.execute("PRAGMA synchronous = NORMAL")
    return sqlite_utils.Database(conn)


def open_index(path: Path, *, busy_timeout_ms: int = 10_000) -> sqlite_utils.Database:
    """Open (creating if needed) the index, owner-only, migrated to the current schema."""
    ensure_private_dir(path.parent)
    if not path.exists():
        _touch_private(path)
    db = connect(path, busy_timeout_ms=busy_timeout_ms)
    applied = migrate(db)
    if applied:
        log.info("index %s: applied migrations %s", path, ", ".join(applied))
    return db
