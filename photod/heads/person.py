"""The person head: face embeddings of each person's examples are the keys.

A face names the nearest person whose closest key lies within the backend's threshold; a
face names at most one person and a person is named at most once per photo (greedy
assignment by distance), so several people in one photo each get their own face.
"""

from __future__ import annotations

import logging
import shlex
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from photod.faces.base import distances
from photod.heads.base import HeadBase, LoadedConcept, Trained
from photod.heads.context import TrainContext
from photod.heads.examples import choose_faces
from photod.heads.features import FACES, SharedFeatures
from photod.index import Index
from photod.index.concepts import Concept, ConceptError, Example
from photod.pipeline.task import Detection, PhotoTask

if TYPE_CHECKING:
    from photod.app import App

log = logging.getLogger(__name__)


def confidence(distance: np.ndarray | float, threshold: float) -> np.ndarray | float:
    """Distance -> score: 1 at distance 0, 0.5 at the threshold (comparable to p >= 0.5)."""
    return 1.0 - 0.5 * np.asarray(distance) / threshold


class PersonHead(HeadBase):
    """Names faces after the user's people."""

    name = "person"
    needs: ClassVar[frozenset[str]] = frozenset({FACES})

    def __init__(self, features: SharedFeatures, *, cluster_unknown: bool = True) -> None:
        super().__init__()
        self._features = features
        self._cluster_unknown = cluster_unknown
        self._keys = np.zeros((0, 0), np.float32)
        self._owner = np.zeros(0, np.int64)  # index into self.concepts per key

    @classmethod
    def create(cls, app: App) -> PersonHead:
        """Always on: faces are indexed even before the first person, for clustering."""
        return cls(app.features)

    @property
    def model_id(self) -> str:
        """Keys are only comparable within one face model."""
        return f"face-keys:{self._features.face_backend.model_id}"

    def wants_features(self) -> bool:
        """Unknown faces are stored for `photod faces clusters` even with no person yet."""
        return self._cluster_unknown or bool(self.concepts)

    def load(self, concepts: list[LoadedConcept]) -> None:
        """Stack every person's keys into one matrix (one distance computation per photo)."""
        model = self._features.face_backend.model_id
        usable = []
        for lc in concepts:
            if lc.meta.get("face_model") != model:
                log.warning(
                    "person %s was trained with face model %s, not %s: retrain it",
                    lc.concept.name,
                    lc.meta.get("face_model"),
                    model,
                )
                continue
            usable.append(lc)
        self.concepts = usable
        if not usable:
            self._keys, self._owner = np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
            return
        self._keys = np.concatenate([lc.tensors["keys"] for lc in usable]).astype(np.float32)
        self._owner = np.concatenate(
            [np.full(len(lc.tensors["keys"]), i) for i, lc in enumerate(usable)]
        )

    def _person_distances(self, embeddings: np.ndarray) -> np.ndarray:
        """``[faces, people]``: each face's distance to each person's nearest key."""
        d = distances(self._features.face_backend.metric, embeddings, self._keys)
        out = np.full((len(embeddings), len(self.concepts)), np.inf, np.float32)
        for p in range(len(self.concepts)):
            out[:, p] = d[:, self._owner == p].min(axis=1)
        return out

    def score(self, task: PhotoTask) -> list[Detection]:
        """Greedy one-to-one assignment of faces to people within the threshold."""
        faces = [(i, f) for i, f in enumerate(task.faces) if f.embedding is not None]
        if not self.concepts or not faces:
            return []
        thr = self._features.face_threshold
        d = self._person_distances(np.stack([f.embedding for _, f in faces]))
        pairs = sorted(
            (float(d[fi, p]), fi, p) for fi, p in zip(*np.nonzero(d <= thr), strict=True)
        )
        used_faces: set[int] = set()
        used_people: set[int] = set()
        out = []
        for dist, fi, p in pairs:
            if fi in used_faces or p in used_people:
                continue
            used_faces.add(fi)
            used_people.add(p)
            face_index, face = faces[fi]
            concept = self.concepts[p].concept
            out.append(
                Detection(
                    concept_id=concept.id,
                    score=float(confidence(dist, thr)),
                    head_model=self.model_id,
                    concept_version=concept.version,
                    face_index=face_index,
                    box=face.box,
                )
            )
        return out

    def train(self, concept: Concept, examples: list[Example], ctx: TrainContext) -> Trained:
        """Keys = one face per example (see :func:`choose_faces`); metrics: leave-one-out."""
        backend = self._features.face_backend
        thr = self._features.face_threshold
        fix = f"photod concept examples add {shlex.quote(concept.name)}"
        chosen, refused = choose_faces(examples, ctx.faces_of, backend.metric, thr, fix)
        if not chosen:
            raise ConceptError(
                f"{concept.name}: no usable example face. " + " ".join(refused.values())
            )
        keys = np.stack([f.embedding for f in chosen.values()]).astype(np.float32)
        loo = None
        if len(keys) > 1:
            d = distances(backend.metric, keys, keys)
            np.fill_diagonal(d, np.inf)
            loo = float((d.min(axis=1) <= thr).mean())
        metrics = {
            "keys": len(keys),
            "refused": refused,
            "leave_one_out_recall": loo,
            "threshold": thr,
        }
        meta = {"face_model": backend.model_id, "metric": backend.metric, "threshold": thr}
        # The embedding learns from the photos whose face became a key (whole photos, as
        # MyVLM does: the caption describes the scene around the person).
        return Trained({"keys": keys}, meta, self.model_id, metrics, list(chosen))

    def fires_on(self, loaded: LoadedConcept, index: Index) -> set[int]:
        """Photos with a stored face within the threshold of this version's keys (a superset)."""
        keys = loaded.tensors["keys"]
        thr = self._features.face_threshold
        metric = self._features.face_backend.metric
        hits: set[int] = set()
        for ids, emb in index.features.iter_face_embeddings(loaded.meta.get("face_model")):
            near = distances(metric, emb, keys).min(axis=1) <= thr
            hits.update(i for i, n in zip(ids, near, strict=True) if n)
        return hits
