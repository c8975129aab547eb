"""Fixtures of the metadata tests."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def exiftool() -> str:
    """exiftool's path (Debian: libimage-exiftool-perl, installed by the test setup)."""
    found = shutil.which("exiftool")
    if not found:
        pytest.skip("exiftool not installed (apt-get install libimage-exiftool-perl)")
    return found
