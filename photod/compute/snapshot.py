"""The driver's concepts, as a compute worker sees them.

A worker has no index of its own to read the concepts from: the driver sends its catalog's
snapshot (:class:`ActiveConcepts`: the heads' tensors and the VLM embeddings) whenever the
concepts' signature changes, and each batch carries the concepts the user rejected on its
photos. :class:`SnapshotCatalog` serves both to the worker's heads and personalize stages.
"""

from __future__ import annotations

from collections.abc import Sequence

from photod.concepts.catalog import ActiveConcepts, ConceptCatalog


class SnapshotCatalog(ConceptCatalog):
    """A concept catalog that serves the snapshot the driver sent last."""

    def __init__(self, vlm_ids: Sequence[str] = ()) -> None:
        super().__init__(artifacts=None, concepts=None, vlm_ids=vlm_ids)  # type: ignore[arg-type]
        self._active = ActiveConcepts(signature=(), concepts={}, artifacts={})
        self._rejected: dict[str, set[int]] = {}

    @property
    def signature(self) -> tuple:
        """The signature of the snapshot in use."""
        return self._active.signature

    def install(self, snapshot: ActiveConcepts) -> None:
        """Use ``snapshot`` from now on (the heads reload on their next batch)."""
        with self._lock:
            self._active = snapshot

    def set_rejected(self, rejected: dict[str, set[int]]) -> None:
        """The rejected concept ids of the photos about to be processed, by content hash."""
        self._rejected = rejected

    def rejected_on(self, hashes: list[str]) -> dict[str, set[int]]:
        """What :meth:`set_rejected` said about these contents (the heads stage's filter)."""
        return {h: self._rejected[h] for h in hashes if h in self._rejected}

    def active(self) -> ActiveConcepts:
        """The installed snapshot."""
        with self._lock:
            return self._active

    def _embedding(self, concept_id: int, version: int, vlm_id: str):
        # Only the driver's active versions travel: a detection of another version (scored
        # just before a retrain) has no embedding here, so that concept is left out.
        concept = self._active.concepts.get(concept_id)
        if concept is None or concept.version != version:
            return None
        return self._active.embeddings.get((concept_id, vlm_id))
