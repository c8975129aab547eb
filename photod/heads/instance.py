"""The object/pet head on patch features: recognises an instance ("my mug"), not a class.

``heads.object.backbone: dinov2``. A concept is stored as the patch tokens that recur across
its examples and are not common in the library (:mod:`photod.heads.patches`); a photo holds
it when it matches the prototypes as well as the examples match each other (leave-one-out),
and the detection carries the box of the object under the best-matching patch.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from PIL import ImageOps

from photod.config import ObjectHeadConfig
from photod.heads.base import HeadBase, LoadedConcept, Trained
from photod.heads.context import TrainContext
from photod.heads.features import CLIP, PATCHES, SharedFeatures
from photod.heads.patches import box, calibrate, photo_scores, select
from photod.index import Index
from photod.index.concepts import Concept, ConceptError, Example
from photod.pipeline.task import Detection, PhotoTask

if TYPE_CHECKING:
    from photod.app import App

log = logging.getLogger(__name__)

MIN_LIBRARY = 8
#: How a photo is scored against the prototypes (:func:`photod.heads.patches.photo_scores`).
#: A threshold is only valid for the rule it was calibrated with: versions trained under
#: another (the best single patch, before 2026-12-03) are not loaded and must be retrained.
SCORING = "coverage"


class PatchObjectHead(HeadBase):
    """Recognises objects and pets from prototypes of their patch features."""

    name = "object"

    def __init__(
        self, features: SharedFeatures, cfg: ObjectHeadConfig, *, clip: bool = True
    ) -> None:
        super().__init__()
        self._features = features
        self._cfg = cfg
        # CLIP stays indexed beside the patches (semantic search, duplicates) when it is on.
        self.needs = frozenset({PATCHES, CLIP} if clip else {PATCHES})
        self._protos = np.zeros((0, 0), np.float32)
        self._owner = np.zeros(0, np.int64)  # prototype row -> loaded concept
        self._thr = np.zeros(0, np.float32)

    @classmethod
    def create(cls, app: App) -> PatchObjectHead:
        """The head with the configured feature model (loaded on first use)."""
        return cls(app.features, app.config.heads.object, clip=app.config.clip.enabled)

    @property
    def model_id(self) -> str:
        """A head is only valid with the feature model it was trained on."""
        return f"prototypes:{self._features.patches.model_id}"

    def wants_features(self) -> bool:
        """Every photo's patches: later concepts' libraries and re-runs read them."""
        return True

    def load(self, concepts: list[LoadedConcept]) -> None:
        """Stack every concept's prototypes into one matrix."""
        model = self._features.patches.model_id
        self.concepts = [
            lc
            for lc in concepts
            if lc.meta.get("feature_model") == model and lc.meta.get("scoring") == SCORING
        ]
        for lc in concepts:
            if lc not in self.concepts:
                log.warning(
                    "%s was trained on other features or scoring: retrain it", lc.concept.name
                )
        if not self.concepts:
            self._protos = np.zeros((0, 0), np.float32)
            return
        blocks = [lc.tensors["prototypes"] for lc in self.concepts]
        self._protos = np.concatenate(blocks).astype(np.float32)
        self._owner = np.repeat(np.arange(len(blocks)), [len(b) for b in blocks])
        self._thr = np.array([lc.meta["threshold"] for lc in self.concepts], np.float32)

    def score(self, task: PhotoTask) -> list[Detection]:
        """Every concept whose best patch reaches its threshold, with where it is."""
        grid = task.features.get(PATCHES)
        if grid is None or not self.concepts:
            return []
        sims = grid @ self._protos.T  # [patches, prototypes]
        side = int(round(np.sqrt(len(grid))))
        out = []
        for i, lc in enumerate(self.concepts):
            mine = sims[:, self._owner == i]
            score = float(mine.max(axis=0).mean())  # as patches.photo_scores
            if score < self._thr[i]:
                continue
            out.append(
                Detection(
                    concept_id=lc.concept.id,
                    score=score,
                    head_model=self.model_id,
                    concept_version=lc.concept.version,
                    box=_object_box(grid, mine, side),
                )
            )
        return out

    def train(self, concept: Concept, examples: list[Example], ctx: TrainContext) -> Trained:
        """Prototypes from the training examples; the threshold from leave-one-out scores."""
        if not examples:
            raise ConceptError(f"{concept.name}: no examples to train on")
        cfg, head = ctx.config, self._cfg
        rng = np.random.default_rng(ctx.seed)
        loaded = [ctx.image(ex.path) for ex in examples]
        hashes = [h for _, h in loaded]
        hold, train = ctx.holdout(len(examples), rng)
        n_hold = len(hold)
        tokens = self._features.patches_by_hash([im for im, _ in loaded], hashes)
        library = ctx.library_patches(set(hashes), cfg.random_negatives, rng)
        if len(library) < MIN_LIBRARY:
            raise ConceptError(
                f"{concept.name}: only {len(library)} other photos to learn what it is not "
                f"(need {MIN_LIBRARY}); index more of your library first"
            )
        ex = [tokens[i] for i in train]
        protos = select(ex, library, head.prototypes_per_example)
        positives = [tokens[i] for i in hold]
        if len(ex) == 1 and not positives:
            # One photo: nothing to score it against, so its mirror image stands in for
            # another photo of the concept (calibration only; no metric reads it). Shrunk or
            # zoomed copies were tried too: they let more look-alikes through (research notes).
            mirrored = ImageOps.mirror(loaded[train[0]][0].convert("RGB"))
            positives = list(self._features.patches.embed([mirrored]))
        thr = calibrate(
            ex,
            positives,
            library,
            head.prototypes_per_example,
            head.threshold_level,
            head.max_library_share,
        )
        lib_fired = photo_scores(protos, library) >= thr
        metrics = {
            "examples": len(examples),
            "prototypes": int(len(protos)),
            "negatives": int(len(library)),
            "threshold": thr,
            # Library photos it fires on: the concept's own unlabelled photos among them.
            "library_fire_rate": float(lib_fired.mean()),
        }
        if n_hold:
            held = photo_scores(protos, tokens[hold])
            metrics.update(
                {"held_out_positives": int(n_hold), "recall": float((held >= thr).mean())}
            )
        meta = {
            "feature_model": self._features.patches.model_id,
            "scoring": SCORING,
            "threshold": thr,
        }
        return Trained(
            {"prototypes": protos},
            meta,
            self.model_id,
            metrics,
            [examples[i].path for i in sorted(train)],
        )

    def fires_on(self, loaded: LoadedConcept, index: Index) -> set[int]:
        """Indexed photos whose cached patch features this version fires on."""
        protos = loaded.tensors["prototypes"]
        thr = float(loaded.meta["threshold"])
        hits: set[int] = set()
        for ids, flat in index.features.iter_photo_clip(loaded.meta["feature_model"]):
            grids = flat.reshape(len(ids), -1, protos.shape[1])
            fired = photo_scores(protos, grids) >= thr
            hits.update(i for i, f in zip(ids, fired, strict=True) if f)
        return hits

    def unknown_photos(self, index: Index) -> set[int]:
        """Photos without cached patch features: whether this concept fires is unknown."""
        model = self._features.patches.model_id
        return {r[0] for r in index.features.photos_without_clip(model)}


#: Where the box is cut, between the photo's typical patch (0) and the best-matching one (1),
#: on the patches' similarity to the best match; chosen on a tuning draw of the toy world
#: (research notes, 2026-12-03).
BOX_LEVEL = 0.6


def _object_box(grid: np.ndarray, sims: np.ndarray, side: int) -> tuple[float, ...] | None:
    """The box of the object the prototypes match (``sims``: ``[patches, prototypes]``).

    Its centre is the patch that the better half of the prototypes match best: one
    prototype's best patch is often a detail at the object's edge, or background that
    recurred in the examples. Its extent is the patches like that one (the feature model
    makes an object's patches alike), cut at ``BOX_LEVEL``: prototype scores alone box the
    detail, or spill over a background in the concept's colours.
    """
    half = max(1, sims.shape[1] // 2)
    centre = int(np.argmax(np.sort(sims, axis=1)[:, -half:].mean(axis=1)))
    like = grid @ grid[centre]
    typical = float(np.median(like))
    return box(like, (side, side), typical + BOX_LEVEL * (float(like.max()) - typical))
