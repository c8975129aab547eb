"""One snapshot of the active concepts, shared by the heads and the personalize stage.

:class:`ConceptCatalog` reads the active version of every concept (heads' tensors and, for
each configured VLM, the concept's embedding) once per change of the concepts' signature;
the stages and training read that snapshot instead of the version folders, so nothing is
read from disk per photo. The folder layout itself belongs to
:class:`photod.concepts.artifacts.ArtifactStore`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photod.concepts.artifacts import ArtifactStore
from photod.heads.base import LoadedConcept
from photod.index.concepts import Concept
from photod.index.repositories import ConceptRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FiredConcept:
    """A concept whose head fired, with its embedding for one VLM."""

    concept_id: int
    name: str
    identifier: str
    version: int
    embedding: Any  # a torch tensor (1, D)


@dataclass
class ActiveConcepts:
    """The trained concepts at one signature: head artifacts and VLM embeddings."""

    signature: tuple
    #: Every concept by id (untrained ones too: version 0).
    concepts: dict[int, Concept]
    #: concept id -> (tensors, meta) of its active version (unreadable versions left out).
    artifacts: dict[int, tuple[dict, dict]]
    #: (concept id, vlm id) -> embedding of the active version.
    embeddings: dict[tuple[int, str], Any] = field(default_factory=dict)

    def by_head(self, head_names: Sequence[str]) -> dict[str, list[LoadedConcept]]:
        """The loadable concepts grouped by the heads that serve them."""
        out: dict[str, list[LoadedConcept]] = {name: [] for name in head_names}
        for cid, (tensors, meta) in self.artifacts.items():
            concept = self.concepts[cid]
            if concept.head_name not in out:
                log.warning(
                    "concept %s needs head %r, which is not installed",
                    concept.name,
                    concept.head_name,
                )
                continue
            out[concept.head_name].append(LoadedConcept(concept, tensors, meta))
        return out

    def embeddings_except(self, vlm_id: str, concept_id: int) -> list[Any]:
        """The active embeddings on ``vlm_id`` of every trained concept but ``concept_id``
        (ascending id): the distractors a new embedding learns to win its object against."""
        return [
            emb
            for (cid, vid), emb in sorted(self.embeddings.items(), key=lambda kv: kv[0][0])
            if vid == vlm_id and cid != concept_id
        ]


class ConceptCatalog:
    """The one reader of concept versions: ``active()`` is cached by the signature."""

    def __init__(
        self,
        artifacts: ArtifactStore,
        concepts: ConceptRepository,
        vlm_ids: Sequence[str] = (),
    ) -> None:
        self.artifacts = artifacts
        self._concepts = concepts
        self.vlm_ids = list(vlm_ids)
        self._lock = threading.Lock()
        self._active: ActiveConcepts | None = None

    def version_dir(self, concept_id: int, version: int) -> Path:
        """The folder of one concept version."""
        return self.artifacts.version_dir(concept_id, version)

    def active(self) -> ActiveConcepts:
        """The current snapshot (re-read only when the concepts' signature changed)."""
        sig = self._concepts.signature()
        with self._lock:
            if self._active is None or self._active.signature != sig:
                self._active = self._read(sig)
            return self._active

    def _read(self, sig: tuple) -> ActiveConcepts:
        concepts = {c.id: c for c in self._concepts.all()}
        snap = ActiveConcepts(sig, concepts, {})
        for cid, concept in sorted(concepts.items()):
            if concept.version <= 0:
                continue  # never trained: nothing on disk
            try:
                snap.artifacts[cid] = self.artifacts.load(cid, concept.version)
            except (OSError, ValueError) as exc:
                log.error("concept %s v%d cannot be loaded: %s", concept.name, concept.version, exc)
            # The embeddings are files of their own: a VLM can still use them.
            for vlm_id in self.vlm_ids:
                found = self._embedding(cid, concept.version, vlm_id)
                if found is not None:
                    snap.embeddings[(cid, vlm_id)] = found
        log.info("concepts read: %d trained (signature changed)", len(snap.artifacts))
        return snap

    def _embedding(self, concept_id: int, version: int, vlm_id: str):
        from photod.vlm.embeddings import load_embedding  # torch: only with a VLM configured

        found = load_embedding(self.version_dir(concept_id, version), vlm_id)
        return None if found is None else found[0]

    def fired(self, detections: Sequence, vlm_id: str) -> list[FiredConcept]:
        """The detections' concepts (one per concept id, ascending id: a deterministic
        order) that have an embedding for ``vlm_id`` in the detected version."""
        versions: dict[int, int] = {}
        for d in detections:
            versions.setdefault(d.concept_id, d.concept_version)
        snap = self.active()
        out = []
        for cid in sorted(versions):
            concept = snap.concepts.get(cid)
            if concept is None:
                continue
            if versions[cid] == concept.version:
                emb = snap.embeddings.get((cid, vlm_id))
            else:  # scored just before a retrain switched versions: read that one
                emb = self._embedding(cid, versions[cid], vlm_id)
            if emb is None:
                log.debug(
                    "concept %s v%d has no embedding for %s", concept.name, versions[cid], vlm_id
                )
                continue
            out.append(FiredConcept(cid, concept.name, concept.identifier, versions[cid], emb))
        return out


def artifact_store(data_dir) -> ArtifactStore:
    """The artifact store under photod's data folder."""
    return ArtifactStore(data_dir / "concepts")
