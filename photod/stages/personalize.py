"""The personalize stage: captions and VQA answers from the configured VLM backends.

Backends are registered through the ``photod_vlm_backends`` plugin hook; with none
registered the stage turns itself off and photos are indexed without captions.
"""

from __future__ import annotations

from photod.pipeline.stage import PERSONALIZE, BaseStage
from photod.pipeline.task import PhotoTask
from photod.services import Services


class PersonalizeStage(BaseStage):
    """Caption each photo, appending the concept embeddings of the concepts that fired."""

    name = "personalize"
    position = PERSONALIZE

    def __init__(self, backends: list) -> None:
        self._backends = backends

    @classmethod
    def create(cls, services: Services) -> PersonalizeStage | None:
        """Off when no VLM backend is registered."""
        backends = [b.create(services) for b in services.plugins.collect("photod_vlm_backends")]
        backends = [b for b in backends if b is not None]
        return cls(backends) if backends else None

    def process(self, task: PhotoTask) -> None:
        """Let every backend add its captions and answers to ``task``."""
        for backend in self._backends:
            backend.process(task)
