"""The object/pet head: a linear classifier per concept on L2-normalised CLIP features.

All object concepts are scored with one matrix product, so a hundred concepts cost about as
much as one next to the CLIP forward pass.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from photod.heads.augment import augment
from photod.heads.base import HeadBase, LoadedConcept, Trained
from photod.heads.context import TrainContext
from photod.heads.features import CLIP, SharedFeatures
from photod.heads.linear import LinearHead, fit_linear, precision_recall
from photod.heads.negatives import mine_negatives
from photod.index import Index
from photod.index.concepts import Concept, ConceptError, Example
from photod.pipeline.task import Detection, PhotoTask

if TYPE_CHECKING:
    from photod.app import App

log = logging.getLogger(__name__)

MIN_NEGATIVES = 8


class ObjectHead(HeadBase):
    """Recognises objects and pets from CLIP image embeddings."""

    name = "object"
    needs: ClassVar[frozenset[str]] = frozenset({CLIP})

    def __init__(self, features: SharedFeatures, *, always: bool = True) -> None:
        super().__init__()
        self._features = features
        self._always = always
        self._w = np.zeros((0, 0), np.float32)
        self._b = np.zeros(0, np.float32)
        self._thr = np.zeros(0, np.float32)

    @classmethod
    def create(cls, app: App) -> HeadBase | None:
        """The configured object head: ``heads.object.backbone`` dinov2 gives the patch
        prototype head (:class:`photod.heads.instance.PatchObjectHead`), clip this one.

        The CLIP embedding is always indexed: it feeds negative mining and re-runs.
        None (no head) when ``clip.enabled`` is false and the backbone is CLIP.
        """
        if app.config.heads.object.backbone == "dinov2":
            from photod.heads.instance import PatchObjectHead

            return PatchObjectHead.create(app)
        if not app.config.clip.enabled:
            log.info("CLIP is off (clip.enabled: false): object and pet concepts are not used")
            return None
        return cls(app.features, always=True)

    @property
    def model_id(self) -> str:
        """A head is only valid with the CLIP model it was trained on."""
        return f"linear:{self._features.clip.model_id}"

    def wants_features(self) -> bool:
        """CLIP embeddings of every photo make later concepts' negatives and re-runs exact."""
        return self._always or bool(self.concepts)

    def load(self, concepts: list[LoadedConcept]) -> None:
        """Stack the concepts' weights into ``[concepts, dim]``."""
        model = self._features.clip.model_id
        self.concepts = [lc for lc in concepts if lc.meta.get("clip_model") == model]
        for lc in concepts:
            if lc not in self.concepts:
                log.warning("%s was trained on CLIP %s: retrain it", lc.concept.name, model)
        if not self.concepts:
            self._w = np.zeros((0, 0), np.float32)
            return
        self._w = np.stack([lc.tensors["weight"].reshape(-1) for lc in self.concepts])
        self._b = np.array([float(lc.tensors["bias"].reshape(-1)[0]) for lc in self.concepts])
        self._thr = np.array([lc.meta["threshold"] for lc in self.concepts], np.float32)

    def score(self, task: PhotoTask) -> list[Detection]:
        """Every concept whose probability reaches its stored threshold."""
        emb = task.features.get(CLIP)
        if emb is None or not self.concepts:
            return []
        p = 1.0 / (1.0 + np.exp(-(self._w @ emb + self._b)))
        return [
            Detection(
                concept_id=self.concepts[i].concept.id,
                score=float(p[i]),
                head_model=self.model_id,
                concept_version=self.concepts[i].concept.version,
            )
            for i in np.nonzero(p >= self._thr)[0]
        ]

    def train(self, concept: Concept, examples: list[Example], ctx: TrainContext) -> Trained:
        """Augmented positives vs mined negatives; held-out examples give the metrics."""
        if not examples:
            raise ConceptError(f"{concept.name}: no examples to train on")
        cfg = ctx.config
        rng = np.random.default_rng(ctx.seed)
        loaded = [ctx.image(ex.path) for ex in examples]
        hashes = [h for _, h in loaded]
        hold, train = ctx.holdout(len(examples), rng)
        n_hold = len(hold)
        clip = self._features
        base = clip.clip_by_hash([im for im, _ in loaded], hashes)
        views = [v for i in train for v in augment(loaded[i][0], cfg.augmentations, rng)]
        pos = np.concatenate([base[train], clip.clip.embed(views)]) if views else base[train]
        want = cfg.hard_negatives + cfg.random_negatives
        lib_hashes, library = ctx.library_embeddings(set(hashes), want, rng)
        neg = mine_negatives(
            base[train],
            library,
            lib_hashes,
            hard=cfg.hard_negatives,
            random=cfg.random_negatives,
            rng=rng,
        )
        if len(neg.embeddings) < MIN_NEGATIVES:
            raise ConceptError(
                f"{concept.name}: only {len(neg.embeddings)} other photos to learn what it is "
                f"not (need {MIN_NEGATIVES}); index more of your library first"
            )
        # Every 5th negative is held out for precision (hard and random alike).
        neg_hold = np.zeros(len(neg.embeddings), bool)
        if n_hold:
            neg_hold[::5] = True
        head = fit_linear(
            pos,
            neg.embeddings[~neg_hold],
            steps=cfg.train_steps,
            lr=cfg.learning_rate,
            seed=ctx.seed,
        )
        metrics = {
            "positives": int(len(pos)),
            "examples": len(examples),
            "negatives": int((~neg_hold).sum()),
            "hard_negatives": neg.hard,
            "threshold": head.threshold,
            "train_recall": float((head.prob(pos) >= head.threshold).mean()),
        }
        if n_hold:
            metrics.update(precision_recall(head, base[hold], neg.embeddings[neg_hold]))
        meta = {"clip_model": clip.clip.model_id, "threshold": head.threshold}
        tensors = {"weight": head.weight[None, :], "bias": np.array([head.bias], np.float32)}
        return Trained(
            tensors, meta, self.model_id, metrics, [examples[i].path for i in sorted(train)]
        )

    def fires_on(self, loaded: LoadedConcept, index: Index) -> set[int]:
        """Indexed photos whose cached embedding this version fires on."""
        head = LinearHead(
            loaded.tensors["weight"].reshape(-1),
            float(loaded.tensors["bias"].reshape(-1)[0]),
            float(loaded.meta["threshold"]),
        )
        hits: set[int] = set()
        for ids, emb in index.features.iter_photo_clip(loaded.meta["clip_model"]):
            hits.update(i for i, f in zip(ids, head.prob(emb) >= head.threshold, strict=True) if f)
        return hits

    def unknown_photos(self, index: Index) -> set[int]:
        """Photos without a cached embedding: whether this concept fires there is unknown."""
        return {r[0] for r in index.features.photos_without_clip(self._features.clip.model_id)}
