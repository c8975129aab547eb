"""What a component may use, handed over by the composition root (constructor injection)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import sqlite_utils

from photod.config import Config
from photod.index.db import connect
from photod.index.writer import IndexWriter
from photod.plugins import PluginRegistry


@dataclass
class Services:
    """The shared services of one photod process.

    Components take the config section they need from ``config`` and write only through
    ``writer``; ``reader()`` gives the calling thread its own read connection.
    """

    config: Config
    writer: IndexWriter
    plugins: PluginRegistry
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def reader(self) -> sqlite_utils.Database:
        """A read connection owned by the calling thread (WAL: reads never block the writer)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.config.index_path, busy_timeout_ms=self.config.index.busy_timeout_ms)
            self._local.db = db
        return db
