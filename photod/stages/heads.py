"""The heads stage: shared features once per photo, then every concept head scores it.

Heads come from the ``photod_heads`` plugin hook (the built-ins register the same way). The
features a photo needs are the union of what the heads with work to do declare, so CLIP or
face detection is skipped when no head needs it. The active concept versions are reloaded
when the concepts change (a cheap query per photo: a retrain's forced re-runs must see the
new version, never the old).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from photod.concepts.catalog import artifact_store, load_active
from photod.heads.features import SharedFeatures
from photod.pipeline.stage import HEADS, BaseStage
from photod.pipeline.task import PhotoTask
from photod.services import Services

log = logging.getLogger(__name__)


class HeadsStage(BaseStage):
    """Run the registered concept heads on each photo."""

    name = "heads"
    position = HEADS

    def __init__(self, services: Services, features: SharedFeatures, heads: list) -> None:
        self._services = services
        self.features = features
        self.heads = heads
        self._artifacts = artifact_store(services.config.paths.data_dir)
        # Photos waiting together are featurised together (CLIP runs on a batch).
        self.batch_size = services.config.clip.batch_size
        self._signature: tuple | None = None

    @classmethod
    def create(cls, services: Services) -> HeadsStage | None:
        """Off when no head is registered; a head that fails to build is logged and skipped."""
        features = SharedFeatures(services)
        heads = []
        # dict.fromkeys: a head registered twice (entry point + loose file) runs once.
        for head_cls in dict.fromkeys(services.plugins.collect("photod_heads")):
            try:
                head = head_cls.create(services, features)
            except Exception as exc:  # a broken plugin head must not stop photod
                log.error("head %s could not start: %s", getattr(head_cls, "name", head_cls), exc)
                continue
            if head is not None:
                heads.append(head)
        return cls(services, features, heads) if heads else None

    @property
    def heads_by_name(self) -> dict[str, object]:
        """The active heads by name (what training and the CLI dispatch on)."""
        return {h.name: h for h in self.heads}

    def refresh(self) -> None:
        """Reload the concepts if any was added, removed or retrained."""
        index = self._services.index
        sig = index.concepts.signature()
        if sig == self._signature:
            return
        loaded = load_active(index.concepts.all(), self._artifacts, self.heads_by_name)
        for head in self.heads:
            head.load(loaded.get(head.name, []))
        self._signature = sig
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
        for task in tasks:
            for head in self.heads:
                try:
                    task.detections.extend(head.score(task))
                except Exception:
                    # Attributed to the head; the photo keeps the other heads' results.
                    log.exception("head %s failed on %s", head.name, task.path)

    def close(self) -> None:
        """Free the models."""
        self.features.close()
