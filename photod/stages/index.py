"""The index stage: commit one photo and all its results in one transaction."""

from __future__ import annotations

from photod.index import Index
from photod.index.photos import save_photo
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import PhotoTask


class IndexStage(BaseStage):
    """Write the photo row and replace its faces, detections, captions and answers."""

    name = "index"
    runs_on_unchanged = True  # the stat (size, mtime) still needs updating

    def __init__(self, index: Index) -> None:
        self._index = index

    def process(self, task: PhotoTask) -> None:
        """Upsert the photo; blocks until the writer committed it."""
        self._index.write(lambda db: save_photo(db, task))
