"""Fixtures for the concepts tests (shared with the other concept test folders)."""

from concept_fixtures import concept_app  # noqa: F401
