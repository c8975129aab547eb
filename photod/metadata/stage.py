"""The pipeline's metadata stage (position 500, after the index stage has committed)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, ClassVar

from photod.metadata import source
from photod.metadata.ownership import RecentWrites, record_own_write
from photod.metadata.writer import MetadataWriter, WriterOptions
from photod.pipeline.stage import METADATA, BaseStage

if TYPE_CHECKING:
    from photod.pipeline.task import PhotoTask
    from photod.services import Services

log = logging.getLogger(__name__)


class MetadataStage(BaseStage):
    """Writes each processed photo's caption, keywords and regions into its metadata."""

    name: ClassVar[str] = "metadata"
    position: ClassVar[int] = METADATA
    workers: ClassVar[int] = 1  # file I/O; one writer keeps sidecar updates simple to reason about

    def __init__(self, services: Services, writer: MetadataWriter) -> None:
        self.services = services
        self.config = services.config.metadata
        self.writer = writer
        self.recent = RecentWrites()

    @classmethod
    def create(cls, services: Services) -> MetadataStage | None:
        """The stage, or None when ``metadata.enabled`` is off or nothing would be written."""
        config = services.config.metadata
        if not config.enabled or not (config.exif or config.sidecar):
            return None
        return cls(services, MetadataWriter(WriterOptions.from_config(config)))

    def process(self, task: PhotoTask) -> None:
        """Write the task's results; raises ``PhotoError(stage="metadata")`` on failure."""
        if not task.ok or task.info is None or task.photo_id is None:
            return  # nothing committed for this photo: nothing to describe
        ids = {d.concept_id for d in task.detections}
        concepts = self.services.index.read(lambda db: source.concepts_by_id(db, ids))
        meta = source.from_task(task, concepts, self.config)
        before = (task.info.size, task.info.mtime_ns)
        result = self.writer.write(task.path, meta, expect=before)
        if result.photo is not None:
            after = result.photo
            self.recent.note(task.path, after, time.time())
            photo_id, digest = task.photo_id, result.content_hash
            self.services.index.write(
                lambda db: record_own_write(db, photo_id, before, after, digest)
            )
            task.info.size, task.info.mtime_ns = after.size, after.mtime_ns  # type: ignore[assignment]
            if digest:
                task.info.content_hash = digest
        for note in result.notes:
            log.info("%s: %s", task.path, note)
