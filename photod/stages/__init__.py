"""photod's built-in pipeline stages and listeners, registered through the hooks a plugin uses."""

from __future__ import annotations

from photod.metadata.listener import MetadataListener
from photod.plugins import hookimpl
from photod.stages.heads import HeadsStage
from photod.stages.index import IndexStage
from photod.stages.ingest import IngestStage
from photod.stages.personalize import PersonalizeStage
from photod.stages.places import PlacesStage


@hookimpl
def photod_stages() -> list[type]:
    """The built-in stages: ingest -> places -> heads -> personalize -> index."""
    return [IngestStage, PlacesStage, HeadsStage, PersonalizeStage, IndexStage]


@hookimpl
def photod_listeners() -> list[type]:
    """The built-in listener on committed photos: metadata write-back."""
    return [MetadataListener]
