"""Fixtures for the watcher tests: a real index on a temporary file, a photo root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from watch_helpers import DEBOUNCE, SETTLE

from photod.config import LibraryConfig
from photod.index import Index


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty photo root."""
    path = tmp_path / "photos"
    path.mkdir()
    return path


@pytest.fixture
def library(root: Path) -> LibraryConfig:
    """A library with short debounce and settle times."""
    return LibraryConfig(roots=[root], debounce_seconds=DEBOUNCE, settle_seconds=SETTLE)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    """A real index on a temporary SQLite file."""
    with Index(tmp_path / "index.sqlite") as w:
        yield w
