"""Fixtures for the heads tests (shared with the other concept test folders)."""

from concept_fixtures import concept_app  # noqa: F401
