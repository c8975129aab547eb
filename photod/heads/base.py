"""The concept head interface (built-in heads and plugin heads implement the same one).

A head class is returned by the ``photod_heads`` plugin hook. The composition root builds it
once with ``HeadClass.create(app)`` (the host :class:`photod.app.App`; None: configured off)
and shares it between the heads stage and training. The stage hands it the active versions
of the concepts it serves with :meth:`ConceptHead.load`, and calls
:meth:`ConceptHead.score` for each photo after computing the shared features the head
``needs`` ("faces", "clip"). Training (:meth:`ConceptHead.train`) returns tensors and
metadata that the concept store versions on disk; :meth:`ConceptHead.fires_on` tells which
indexed photos a version fires on from stored features, so a retrain re-runs exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from photod.app import App
    from photod.heads.context import TrainContext
    from photod.index import Index
    from photod.index.concepts import Concept, Example
    from photod.pipeline.task import Detection, PhotoTask


@dataclass
class LoadedConcept:
    """The active version of one concept, as a head uses it."""

    concept: Concept
    tensors: dict[str, np.ndarray]
    meta: dict[str, Any]


@dataclass
class Trained:
    """What a head's training produced: saved as one concept version."""

    tensors: dict[str, np.ndarray]
    meta: dict[str, Any]
    head_model: str
    metrics: dict[str, Any] = field(default_factory=dict)
    #: The example paths the head learned from (the rest were held out for its metrics).
    #: The concept's VLM embeddings train on exactly these, so that no held-out example
    #: leaks into either (reference defect 4). None: every example.
    training_paths: list[str] | None = None


@runtime_checkable
class ConceptHead(Protocol):
    """Recognises the concepts of one kind of head in a photo."""

    #: The head's name; a concept names its head (default: person for people, object else).
    name: ClassVar[str]
    #: Shared features the head reads ("faces": ``task.faces``; "clip": ``features["clip"]``).
    needs: ClassVar[frozenset[str]]

    @property
    def model_id(self) -> str:
        """Recorded on every detection row (with the concept version)."""

    def wants_features(self) -> bool:
        """Whether the shared features must be computed even with no concept loaded."""

    def load(self, concepts: list[LoadedConcept]) -> None:
        """Replace the loaded concepts with these active versions."""

    def score(self, task: PhotoTask) -> list[Detection]:
        """The detections of the loaded concepts in ``task`` (features already computed)."""

    def train(self, concept: Concept, examples: list[Example], ctx: TrainContext) -> Trained:
        """Train a new version from the examples; raise ConceptError when it cannot."""

    def fires_on(self, loaded: LoadedConcept, index: Index) -> set[int] | None:
        """Ids of indexed photos this version fires on, from the features ``index`` stores
        (``index.features``); None: unknown."""


class HeadBase:
    """Defaults for a head: no shared features, nothing to do without concepts."""

    name: ClassVar[str] = "head"
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self.concepts: list[LoadedConcept] = []

    @classmethod
    def create(cls, app: App) -> HeadBase | None:
        """Build the head from the host app (no model loading here)."""
        return cls()

    @property
    def model_id(self) -> str:
        """The head's model identifier."""
        return self.name

    def wants_features(self) -> bool:
        """Only when it has concepts to score."""
        return bool(self.concepts)

    def load(self, concepts: list[LoadedConcept]) -> None:
        """Keep the active versions."""
        self.concepts = list(concepts)

    def fires_on(self, loaded: LoadedConcept, index: Index) -> set[int] | None:
        """Unknown by default: every indexed photo is re-run."""
        return None

    def close(self) -> None:
        """Nothing to release."""
