"""Training one concept: head training, a new version on disk, the atomic switch, re-runs.

With VLMs configured (``vlm.models``), the same training also learns the concept's embedding
for each VLM (MyVLM's "Communicate" stage) on exactly the examples the head trained on, and
writes it into the new version's folder before that folder appears: a version is either
complete (head and embeddings) or absent.

The switch is one index transaction: the concept's version, the training job's removal and
the re-run jobs for the affected photos commit together. Affected photos are exactly those
where the concept fired before (detection rows) or fires now (the new version scored on the
stored faces / CLIP embeddings), queued as forced index jobs so their heads (and later their
captions) run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photod.concepts.catalog import ConceptCatalog
from photod.config import ConceptsConfig
from photod.heads.base import LoadedConcept
from photod.heads.context import TrainContext
from photod.heads.features import SharedFeatures
from photod.index import Index, concepts, jobs, queries, training
from photod.index.concepts import Concept, ConceptError, Example
from photod.ingest.decode import DecodeLimits

if TYPE_CHECKING:
    from photod.vlm.runtime import VlmRuntime

log = logging.getLogger(__name__)


@dataclass
class EmbeddingRequest:
    """One concept's VLM embeddings to train: everything a training here or on a compute
    worker needs (the images are the head's training examples, in this order)."""

    identifier: str
    class_word: str
    kind: str
    paths: list[str]
    #: The user's own captions, by image: they replace the generated targets of their photos.
    targets: dict[int, list[tuple[None, str]]]
    #: VLM id -> the other concepts' active embeddings (``training.distractor_share``).
    distractors: dict[str, list[Any]]


#: Trains a request's embeddings into a version folder and returns their metadata by VLM id;
#: the last argument trains them in this process (a remote trainer's fallback).
RemoteEmbeddings = Callable[
    [EmbeddingRequest, Path, Callable[[], dict[str, Any]]], dict[str, dict[str, Any]]
]


@dataclass
class TrainOutcome:
    """What one training produced."""

    concept_id: int
    version: int
    metrics: dict[str, Any] = field(default_factory=dict)
    rerun: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Trainer:
    """Trains concepts with the heads (and their shared models) the heads stage scores with,
    and their VLM embeddings with the personalize stage's VLM runtime (``vlm`` None: heads
    only). Built once by the composition root.

    ``clip_enabled``: whether CLIP is on (to say why an object concept has no head);
    ``concepts_cfg`` and ``limits``: the training settings and the pipeline's decode limits;
    ``remote``: trains the embeddings elsewhere (a Ray cluster) instead of with ``vlm``; the
    head still trains here, where the library is.
    """

    def __init__(
        self,
        index: Index,
        features: SharedFeatures,
        heads: dict[str, Any],
        catalog: ConceptCatalog,
        vlm: VlmRuntime | None = None,
        *,
        clip_enabled: bool,
        concepts_cfg: ConceptsConfig,
        limits: DecodeLimits,
        remote: RemoteEmbeddings | None = None,
    ) -> None:
        self.index = index
        self.features = features
        self.heads = heads
        self.catalog = catalog
        self.vlm = vlm
        self._clip_enabled = clip_enabled
        self._concepts_cfg = concepts_cfg
        self._limits = limits
        self._remote = remote

    def context(self, seed: int = 0) -> TrainContext:
        """What a head's training may use (decoded examples, shared features, the library)."""
        return TrainContext(self.index, self.features, self._concepts_cfg, self._limits, seed)

    def train(self, concept_id: int, *, seed: int = 0, progress: bool = False) -> TrainOutcome:
        """Train and switch to a new version; the previous one stays active on any failure.

        ``progress``: a progress bar per VLM embedding (the CLI on a terminal).
        """
        if not self.heads:
            raise ConceptError("no concept head is installed (see `photod plugins`)")
        started = time.time()
        index = self.index
        artifacts = self.catalog.artifacts
        concept = index.concepts.get(concept_id)
        examples = index.concepts.examples(concept_id)
        head = self.heads.get(concept.head_name)
        if head is None:
            why = "which is not installed"
            if concept.head_name == "object" and not self._clip_enabled:
                why = "which needs CLIP: set clip.enabled: true"  # the head is off without it
            raise ConceptError(f"{concept.name} needs the {concept.head_name!r} head, {why}")
        ctx = self.context(seed)
        trained = head.train(concept, examples, ctx)
        version = artifacts.next_version(concept_id, concept.version)
        meta = {
            **trained.meta,
            "head": head.name,
            "head_model": trained.head_model,
            "version": version,
            "metrics": trained.metrics,
            "examples": [e.path for e in examples],
            "trained_at": time.time(),
        }
        fill, vlm_timing = None, {}
        if self.vlm is not None and self.vlm.model_ids:
            used = set(trained.training_paths or [e.path for e in examples])
            fill = self._embeddings_writer(
                concept, [e for e in examples if e.path in used], ctx, vlm_timing, progress
            )
        artifacts.write(concept_id, version, trained.tensors, meta, fill)
        new = LoadedConcept(replace(concept, version=version), trained.tensors, meta)
        fires = head.fires_on(new, index)
        unknown = getattr(head, "unknown_photos", None)
        if fires is not None and unknown is not None:
            fires |= unknown(index)
        metrics = {**trained.metrics, "seconds": round(time.time() - started, 3)}

        def switch(wdb) -> list[str]:
            if not concepts.exists(wdb, concept_id):
                return []  # removed while training
            before = concepts.detected_photo_ids(wdb, concept_id)
            # fires None: the head cannot tell, every photo may change.
            ids = None if fires is None else sorted(before | fires)
            paths = queries.paths_of(wdb, ids)
            concepts.set_version(wdb, concept_id, version, trained.head_model, metrics)
            for p in paths:
                jobs.enqueue(wdb, jobs.INDEX, p, {"force": True})
            # Changes requested after this training read its examples keep their job.
            training.finish(wdb, concept_id, started)
            return paths

        if vlm_timing:
            metrics["vlm_seconds"] = round(vlm_timing["seconds"], 3)
        rerun = index.write(switch)
        artifacts.prune(concept_id, version, concept.version)
        log.info(
            "concept %s: version %d active, %d photo(s) to re-run, metrics %s",
            concept.name,
            version,
            len(rerun),
            metrics,
        )
        return TrainOutcome(concept_id, version, metrics, rerun, time.time() - started)

    def _embeddings_writer(
        self,
        concept: Concept,
        examples: list[Example],
        ctx: TrainContext,
        timing: dict[str, float],
        progress: bool,
    ):
        """The ``fill`` callback that trains one embedding per configured VLM into a
        version folder; returns the metadata merged into the version's ``meta.json``."""
        from photod.vlm.concept_training import train_concept_embedding

        def fill(folder: Path) -> dict[str, Any]:
            started = time.time()
            active = self.catalog.active()
            request = EmbeddingRequest(
                identifier=concept.identifier,
                class_word=concept.class_word,
                kind=concept.kind,
                paths=[e.path for e in examples],
                targets={i: [(None, e.caption)] for i, e in enumerate(examples) if e.caption},
                distractors={
                    vlm_id: active.embeddings_except(vlm_id, concept.id)
                    for vlm_id in self.vlm.model_ids
                    if self.vlm.training_settings(vlm_id).distractor_share > 0
                },
            )

            def here() -> dict[str, Any]:
                return train_concept_embedding(
                    self.vlm,
                    identifier=request.identifier,
                    class_word=request.class_word,
                    kind=request.kind,
                    images=[ctx.image(p)[0] for p in request.paths],
                    version_dir=folder,
                    targets=request.targets,
                    progress=progress,
                    distractors=request.distractors,
                )

            try:
                out = here() if self._remote is None else self._remote(request, folder, here)
            except (ValueError, OSError) as exc:
                raise ConceptError(f"{concept.name}: VLM embedding training failed: {exc}") from exc
            timing["seconds"] = time.time() - started
            return {"vlm": out, "vlm_examples": request.paths}

        return fill
