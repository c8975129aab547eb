"""Fixtures for the web app's tests: a real library (see ``web_fixtures``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from web_fixtures import make_library


@pytest.fixture
def library(tmp_path: Path):
    """A fresh library per test (tests change it)."""
    lib = make_library(tmp_path)
    yield lib
    lib.app.close()


@pytest.fixture(scope="module")
def shared_library(tmp_path_factory):
    """One library for a module's tests that only read it."""
    lib = make_library(tmp_path_factory.mktemp("library"))
    yield lib
    lib.app.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where a test keeps what it shows (screenshots): ``$PHOTOD_TEST_ARTIFACTS`` or tmp."""
    base = os.environ.get("PHOTOD_TEST_ARTIFACTS")
    folder = Path(base) if base else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
