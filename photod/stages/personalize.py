"""The personalize stage: captions and VQA answers with the fired concepts' embeddings.

For every configured VLM (``vlm.models``), the concepts whose heads fired on the photo
(``task.detections``) each append their embedding, in ascending concept id order. A photo
where nothing fired gets the untouched model's caption, or none when ``vlm.plain_captions``
is off. The composition root builds the stage only when it built a VLM runtime (a model
configured and a backend registered through the ``photod_vlm_backends`` hook).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from photod.concepts.catalog import ConceptCatalog
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import Answer, Caption, PhotoTask

if TYPE_CHECKING:
    from photod.vlm.runtime import VlmRuntime

log = logging.getLogger(__name__)


class PersonalizeStage(BaseStage):
    """Caption each photo, appending the concept embeddings of the concepts that fired."""

    name = "personalize"

    def __init__(self, catalog: ConceptCatalog, runtime: VlmRuntime) -> None:
        self._catalog = catalog
        self.runtime = runtime

    def process(self, task: PhotoTask) -> None:
        """Add one caption (and the answers) per configured VLM to ``task``."""
        if task.image is None:
            return
        for vlm_id in self.runtime.model_ids:
            fired = self._catalog.fired(task.detections, vlm_id)
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
