"""The heads stage: shared features once per photo, then every concept head scores it.

Heads are registered through the ``photod_heads`` plugin hook; with no head registered the
stage turns itself off.
"""

from __future__ import annotations

from photod.pipeline.stage import HEADS, BaseStage
from photod.pipeline.task import PhotoTask
from photod.services import Services


class HeadsStage(BaseStage):
    """Run the registered concept heads on each photo."""

    name = "heads"
    position = HEADS

    def __init__(self, heads: list) -> None:
        self._heads = heads

    @classmethod
    def create(cls, services: Services) -> HeadsStage | None:
        """Off when no head is registered."""
        heads = [head_cls.create(services) for head_cls in services.plugins.collect("photod_heads")]
        heads = [h for h in heads if h is not None]
        return cls(heads) if heads else None

    def process(self, task: PhotoTask) -> None:
        """Let every head add its detections to ``task``."""
        for head in self._heads:
            head.process(task)
