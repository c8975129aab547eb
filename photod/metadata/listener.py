"""Metadata write-back as a listener on committed photos (not a pipeline stage)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from photod.metadata.rewrite import IndexedRewriter
from photod.metadata.writer import MetadataWriter, WriterOptions

if TYPE_CHECKING:
    from photod.pipeline.task import PhotoTask
    from photod.services import Services


class MetadataListener:
    """Writes each committed photo's metadata from what the index now holds for it."""

    name: ClassVar[str] = "metadata"

    def __init__(self, rewriter: IndexedRewriter) -> None:
        self._rewriter = rewriter

    @classmethod
    def create(cls, services: Services) -> MetadataListener | None:
        """The listener, or None when ``metadata.enabled`` is off or nothing would be written."""
        config = services.config.metadata
        if not config.enabled or not (config.exif or config.sidecar):
            return None
        writer = MetadataWriter(WriterOptions.from_config(config))
        return cls(IndexedRewriter(writer, config, services.index))

    def committed(self, task: PhotoTask) -> None:
        """Write the photo's metadata; raises ``PhotoError(stage="metadata")`` on failure."""
        if task.photo_id is not None:
            self._rewriter.rewrite(task.photo_id)

    def close(self) -> None:
        """Nothing to release."""
