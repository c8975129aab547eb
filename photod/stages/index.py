"""The index stage: commit one photo and all its results in one transaction."""

from __future__ import annotations

from photod.index.photos import save_photo
from photod.pipeline.stage import INDEX, BaseStage
from photod.pipeline.task import PhotoTask
from photod.services import Services


class IndexStage(BaseStage):
    """Write the photo row and replace its faces, detections, captions and answers."""

    name = "index"
    position = INDEX
    runs_on_unchanged = True  # the stat (size, mtime) still needs updating

    def __init__(self, services: Services) -> None:
        self._index = services.index

    @classmethod
    def create(cls, services: Services) -> IndexStage:
        """The index stage is always on."""
        return cls(services)

    def process(self, task: PhotoTask) -> None:
        """Upsert the photo; blocks until the writer committed it."""
        self._index.write(lambda db: save_photo(db, task))
