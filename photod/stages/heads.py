"""The heads stage: shared features once per photo, then every concept head scores it.

The heads are built once by the composition root from the ``photod_heads`` plugin hook (the
built-ins register the same way) and shared with training. The features a photo needs are
the union of what the heads with work to do declare, so CLIP or face detection is skipped
when no head needs it. The active concept versions come from the concept catalog's
snapshot, re-read when the concepts change (a cheap query per photo: a retrain's forced
re-runs must see the new version, never the old).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from photod.concepts.catalog import ConceptCatalog
from photod.heads.features import SharedFeatures
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import PhotoTask

log = logging.getLogger(__name__)


class HeadsStage(BaseStage):
    """Run the registered concept heads on each photo."""

    name = "heads"

    def __init__(
        self,
        catalog: ConceptCatalog,
        features: SharedFeatures,
        heads: list,
        batch_size: int,
        rejected: Callable[[list[str]], dict[str, set[int]]] = lambda hashes: {},
        stale: Callable[[list[int]], None] = lambda concept_ids: None,
    ) -> None:
        """``rejected``: the concept ids the user said are not in each photo content (the
        index's ``concepts.rejected_on``); those never fire there. ``stale``: called with
        the concepts whose active version a head declined (trained on another model or
        scoring), so that they are retrained rather than silently never fire."""
        self._catalog = catalog
        self._rejected = rejected
        self._stale = stale
        self.features = features
        self.heads = heads
        # Photos waiting together are featurised together (CLIP runs on a batch).
        self.batch_size = batch_size
        self._signature: tuple | None = None

    @property
    def heads_by_name(self) -> dict[str, object]:
        """The active heads by name (what training and the CLI dispatch on)."""
        return {h.name: h for h in self.heads}

    def refresh(self) -> None:
        """Reload the concepts if any was added, removed or retrained."""
        active = self._catalog.active()
        if active.signature == self._signature:
            return
        loaded = active.by_head(list(self.heads_by_name))
        declined = []
        for head in self.heads:
            mine = loaded.get(head.name, [])
            head.load(mine)
            declined += [lc.concept.id for lc in mine if lc not in head.concepts]
        self._signature = active.signature
        if declined:
            self._stale(declined)
        log.info("concept heads loaded: %s", {k: len(v) for k, v in loaded.items()})

    def process(self, task: PhotoTask) -> None:
        """Compute the needed shared features, then let every head add its detections."""
        self.process_batch([task])

    def process_batch(self, tasks: Sequence[PhotoTask]) -> None:
        """The same for several photos at once (features are computed in batches)."""
        self.refresh()
        needs: set[str] = set()  # heads with concepts: a model failure fails the photo
        optional: set[str] = set()  # heads that index features ahead of their first concept
        for head in self.heads:
            if head.concepts:
                needs |= set(head.needs)
            elif head.wants_features():
                optional |= set(head.needs)
        self.features.compute(tasks, needs, optional)
        rejected = self._rejected([t.info.content_hash for t in tasks if t.info])
        for task in tasks:
            not_here = rejected.get(task.info.content_hash, set()) if task.info else set()
            for head in self.heads:
                try:
                    found = head.score(task)
                except Exception:
                    # Attributed to the head; the photo keeps the other heads' results.
                    log.exception("head %s failed on %s", head.name, task.path)
                    continue
                task.detections.extend(d for d in found if d.concept_id not in not_here)

    def close(self) -> None:
        """Free the models."""
        self.features.close()
