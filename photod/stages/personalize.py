"""The personalize stage: captions and VQA answers with the fired concepts' embeddings.

For every configured VLM (``vlm.models``), the concepts whose heads fired on the photo
(``task.detections``) each append their embedding, in ascending concept id order. A photo
where nothing fired gets the untouched model's caption, or none when ``vlm.plain_captions``
is off. Backends come from the ``photod_vlm_backends`` hook; with no VLM configured or no
backend registered the stage is off.
"""

from __future__ import annotations

import logging

from photod.pipeline.stage import PERSONALIZE, BaseStage
from photod.pipeline.task import Answer, Caption, PhotoTask
from photod.services import Services

log = logging.getLogger(__name__)


class PersonalizeStage(BaseStage):
    """Caption each photo, appending the concept embeddings of the concepts that fired."""

    name = "personalize"
    position = PERSONALIZE

    def __init__(self, services: Services, runtime) -> None:
        self._services = services
        self.runtime = runtime

    @classmethod
    def create(cls, services: Services) -> PersonalizeStage | None:
        """Off when no VLM is configured or no backend is registered (models load lazily)."""
        cfg = services.config.vlm
        if not cfg.models:
            return None
        backends = services.plugins.collect("photod_vlm_backends")
        if not backends:
            log.warning("vlm.models is set but no VLM backend is registered: no captions")
            return None
        from photod.vlm.runtime import VlmRuntime

        runtime = VlmRuntime(
            cfg,
            backends,
            services.config.paths.cache_dir,
            offline=services.config.models.offline,
        )
        for model in runtime.models.values():
            services.models.add(model)
        return cls(services, runtime)

    def process(self, task: PhotoTask) -> None:
        """Add one caption (and the answers) per configured VLM to ``task``."""
        if task.image is None:
            return
        for vlm_id in self.runtime.model_ids:
            fired = self._services.concepts.fired(task.detections, vlm_id)
            # Failures (a model that cannot load included) become this photo's recorded
            # error in the runner; the daemon goes on.
            desc = self.runtime.describe(vlm_id, task.image, fired)
            if desc.caption is not None:
                task.captions.append(Caption(desc.caption, vlm_id, desc.concept_versions))
            task.answers.extend(
                Answer(q, a, vlm_id, desc.concept_versions) for q, a in desc.answers
            )

    def close(self) -> None:
        """Free the models."""
        self.runtime.close()
