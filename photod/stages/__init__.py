"""photod's built-in pipeline stages, registered through the same hook a plugin would use."""

from __future__ import annotations

from photod.metadata.stage import MetadataStage
from photod.plugins import hookimpl
from photod.stages.heads import HeadsStage
from photod.stages.index import IndexStage
from photod.stages.ingest import IngestStage
from photod.stages.personalize import PersonalizeStage


@hookimpl
def photod_stages() -> list[type]:
    """The built-in stages: ingest -> heads -> personalize -> index -> metadata."""
    return [IngestStage, HeadsStage, PersonalizeStage, IndexStage, MetadataStage]
