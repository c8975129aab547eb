"""Training one concept: head training, a new version on disk, the atomic switch, re-runs.

The switch is one index transaction: the concept's version, the training job's removal and
the re-run jobs for the affected photos commit together. Affected photos are exactly those
where the concept fired before (detection rows) or fires now (the new version scored on the
stored faces / CLIP embeddings), queued as forced index jobs so their heads (and later their
captions) run again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from photod.concepts.artifacts import ArtifactStore
from photod.concepts.catalog import artifact_store
from photod.concepts.context import TrainContext
from photod.concepts.store import ConceptError, get_concept, list_examples, set_version
from photod.heads.base import LoadedConcept
from photod.heads.features import SharedFeatures
from photod.index import jobs
from photod.services import Services

log = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    """What one training produced."""

    concept_id: int
    version: int
    metrics: dict[str, Any] = field(default_factory=dict)
    rerun: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Trainer:
    """Trains concepts with the heads (and their shared models) of the heads stage."""

    def __init__(
        self,
        services: Services,
        features: SharedFeatures,
        heads: dict[str, Any],
        artifacts: ArtifactStore | None = None,
    ) -> None:
        self.services = services
        self.features = features
        self.heads = heads
        self.artifacts = artifacts or artifact_store(services.config.paths.data_dir)

    @classmethod
    def for_stages(cls, services: Services, stages: list) -> Trainer:
        """Share the heads stage's models; build a private one if that stage is off."""
        from photod.stages.heads import HeadsStage

        stage = next((s for s in stages if isinstance(s, HeadsStage)), None)
        if stage is None:
            stage = HeadsStage.create(services)
        if stage is None:
            raise ConceptError("no concept head is installed (see `photod plugins`)")
        return cls(services, stage.features, stage.heads_by_name)

    def train(self, concept_id: int, *, seed: int = 0) -> TrainOutcome:
        """Train and switch to a new version; the previous one stays active on any failure."""
        started = time.time()
        db = self.services.reader()
        concept = get_concept(db, concept_id)
        examples = list_examples(db, concept_id)
        head = self.heads.get(concept.head_name)
        if head is None:
            raise ConceptError(
                f"{concept.name} needs the {concept.head_name!r} head, which is not installed"
            )
        ctx = TrainContext.build(self.services, self.features, seed=seed)
        trained = head.train(concept, examples, ctx)
        version = self.artifacts.next_version(concept_id, concept.version)
        meta = {
            **trained.meta,
            "head": head.name,
            "head_model": trained.head_model,
            "version": version,
            "metrics": trained.metrics,
            "examples": [e.path for e in examples],
            "trained_at": time.time(),
        }
        self.artifacts.write(concept_id, version, trained.tensors, meta)
        new = LoadedConcept(replace(concept, version=version), trained.tensors, meta)
        fires = head.fires_on(new, self.services.reader())
        unknown = getattr(head, "unknown_photos", None)
        if fires is not None and unknown is not None:
            fires |= unknown(self.services.reader())
        metrics = {**trained.metrics, "seconds": round(time.time() - started, 3)}

        def switch(wdb) -> list[str]:
            if wdb.execute("SELECT 1 FROM concepts WHERE id = ?", (concept_id,)).fetchone() is None:
                return []  # removed while training
            before = {
                r[0]
                for r in wdb.execute(
                    "SELECT DISTINCT photo_id FROM detections WHERE concept_id = ?", (concept_id,)
                ).fetchall()
            }
            if fires is None:  # the head cannot tell: every photo may change
                sql, args = "SELECT path FROM photos WHERE status = 'indexed'", ()
            else:
                ids = sorted(before | fires)
                marks = ",".join("?" * len(ids))
                sql, args = f"SELECT path FROM photos WHERE id IN ({marks})", tuple(ids)
            paths = [r[0] for r in wdb.execute(sql, args).fetchall()]
            set_version(wdb, concept_id, version, trained.head_model, metrics)
            for p in paths:
                jobs.enqueue(wdb, jobs.INDEX, p, {"force": True})
            # Changes requested after this training read its examples keep their job.
            wdb.execute(
                "DELETE FROM training_jobs WHERE concept_id = ? AND requested_at <= ?",
                (concept_id, started),
            )
            return paths

        rerun = self.services.writer.call(switch)
        self.artifacts.prune(concept_id, version, concept.version)
        log.info(
            "concept %s: version %d active, %d photo(s) to re-run, metrics %s",
            concept.name,
            version,
            len(rerun),
            metrics,
        )
        return TrainOutcome(concept_id, version, metrics, rerun, time.time() - started)
