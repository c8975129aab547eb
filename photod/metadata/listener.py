"""Metadata write-back as a listener on committed photos (not a pipeline stage)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from photod.config import MetadataConfig
from photod.index import Index
from photod.metadata.rewrite import IndexedRewriter
from photod.metadata.writer import MetadataWriter, WriterOptions

if TYPE_CHECKING:
    from photod.pipeline.task import PhotoTask


class MetadataListener:
    """Writes each committed photo's metadata from what the index now holds for it."""

    name: ClassVar[str] = "metadata"

    def __init__(self, config: MetadataConfig, index: Index) -> None:
        writer = MetadataWriter(WriterOptions.from_config(config))
        self._rewriter = IndexedRewriter(writer, config, index)

    @staticmethod
    def wanted(config: MetadataConfig) -> bool:
        """Whether ``metadata`` asks for any write-back (the listener is off otherwise)."""
        return config.enabled and bool(config.exif or config.sidecar)

    def committed(self, task: PhotoTask) -> None:
        """Write the photo's metadata; raises ``PhotoError(stage="metadata")`` on failure."""
        if task.photo_id is not None:
            self._rewriter.rewrite(task.photo_id)

    def close(self) -> None:
        """Nothing to release."""
