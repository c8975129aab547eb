"""The locate stage: where each fired pet or object is, from the grounding VLM.

For the photo's pet and object detections, the first VLM of ``vlm.models`` with grounding
settings is asked where each concept is, with the concept's embedding appended
(:func:`photod.vlm.grounding.locate`). A box it gives replaces the head's and is recorded as
the VLM's (``box_source``); no box (the model answered without one, or with a malformed or
out-of-range one) leaves the head's box, if any, as it was. People keep their face boxes.
The composition root adds the stage after personalize only when such a VLM is configured.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from photod.concepts.catalog import ConceptCatalog
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import BOX_VLM, PhotoTask

if TYPE_CHECKING:
    from photod.vlm.runtime import VlmRuntime

log = logging.getLogger(__name__)

#: The concept kinds whose box the grounding VLM gives (a person's box is its face's).
LOCATED_KINDS = ("pet", "object")


class LocateStage(BaseStage):
    """Ask the grounding VLM where each fired pet or object is; keep the boxes it gives."""

    name = "locate"

    def __init__(self, catalog: ConceptCatalog, runtime: VlmRuntime, model_id: str) -> None:
        self._catalog = catalog
        self.runtime = runtime
        self.model_id = model_id

    def process(self, task: PhotoTask) -> None:
        """Set ``box`` and ``box_source`` on the pet and object detections it can place."""
        from photod.vlm.grounding import locate  # torch: only with a VLM configured

        if task.image is None:
            return
        concepts = self._catalog.active().concepts
        targets = [
            d
            for d in task.detections
            if d.face_index is None
            and d.concept_id in concepts
            and concepts[d.concept_id].kind in LOCATED_KINDS
        ]
        fired = self._catalog.fired(targets, self.model_id)
        found_boxes = locate(self.runtime, self.model_id, task.image, fired)
        for concept, found in zip(fired, found_boxes, strict=True):
            if found.box is None:
                continue
            for d in targets:
                if d.concept_id == concept.concept_id:
                    d.box, d.box_source = found.box, BOX_VLM
