"""The MyVLM evaluation protocol over a :class:`~photod_lab.evaluation.dataset.EvalDataset`.

Per concept, ``splits`` random training sets of ``shots`` images are drawn (seeded); the rest
is held out. For each split every concept is trained, then measured:

- recall: held-out photos of the concept whose caption contains its identifier;
- false identifier rate: photos *without* the concept (``_negatives`` and the other concepts'
  held-out photos) whose caption contains its identifier;
- text similarity to the target captions and CLIPScore against the photo, both with the
  identifier replaced by the class phrase;
- scene accuracy (toy world): the caption, identifier replaced by the class phrase, equals
  the generic scene caption, i.e. the rest of the scene is still described exactly;
- multi-concept photos: micro precision/recall/F1 of the identifiers named.

Gating: ``heads`` (:mod:`photod_lab.evaluation.product`) is photod itself: each concept is
taught with ``photod concept add`` + ``photod concept train`` and the daemon's heads decide
where embeddings are appended; ``oracle`` fires exactly the concepts present (measures the
communicate stage alone); ``always`` fires the evaluated concept on every photo, negatives
included (measures how much the learned embedding leaks its name when the head errs).
Targets: ``dataset`` trains embeddings on the dataset's captions, ``generated`` on captions
the base model writes (what ``photod concept train`` does without the user's captions).

Beside each scene accuracy, ``base_scene_accuracy`` is the base model's on the same photos.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from photod_lab.evaluation.dataset import ConceptData, EvalDataset
from photod_lab.evaluation.protocol import Personalizer
from photod_lab.evaluation.scoring import (
    ClipScorer,
    TextEmbedder,
    contains_word,
    replace_word,
    text_similarity,
)

log = logging.getLogger(__name__)


@dataclass
class EvalConfig:
    """Protocol settings (defaults: the paper's 5 splits x 4 training images)."""

    splits: int = 5
    shots: int = 4
    seed: int = 0
    gate: str = "oracle"
    targets: str = "dataset"
    max_heldout: int | None = None
    max_negatives: int | None = None
    max_multi: int | None = None


def train_split(p, images, concepts, splits, k: int, cfg, trained=None) -> tuple[dict, dict]:
    """Train every concept of ``concepts`` with personalizer ``p`` on split ``k``'s training
    photos (the dataset's captions as targets when ``cfg.targets`` is "dataset", else the
    personalizer's own); ``images`` decodes paths, ``trained`` is called after each concept.
    Returns (trained states, held-out photos), both by concept key."""
    states, held = {}, {}
    for c in concepts:
        train_idx, test_idx = splits[c.info.key][k]
        train = [c.images[i] for i in train_idx]
        targets = [c.captions.get(x.name, []) if cfg.targets == "dataset" else [] for x in train]
        states[c.info.key] = p.train(c.info, images(train), targets)
        held[c.info.key] = [c.images[i] for i in test_idx][: cfg.max_heldout]
        if trained is not None:
            trained()
    return states, held


def draw_splits(
    n: int, shots: int, splits: int, rng: np.random.Generator
) -> list[tuple[list[int], list[int]]]:
    """``splits`` random (train, held-out) index partitions with ``shots`` training images."""
    if n <= shots:
        raise ValueError(f"need more than {shots} images per concept, got {n}")
    out = []
    for _ in range(splits):
        perm = rng.permutation(n).tolist()
        out.append((sorted(perm[:shots]), sorted(perm[shots:])))
    return out


class _Images:
    """Decoded photos, loaded once per run."""

    def __init__(self) -> None:
        self._cache: dict[Path, Image.Image] = {}

    def __call__(self, paths: list[Path]) -> list[Image.Image]:
        for p in paths:
            if p not in self._cache:
                with Image.open(p) as im:
                    self._cache[p] = im.convert("RGB")
        return [self._cache[p] for p in paths]


def mean_of(xs: list[float | None]) -> float | None:
    """The mean of the defined values (None: there are none)."""
    xs = [x for x in xs if x is not None and not np.isnan(x)]
    return float(np.mean(xs)) if xs else None


class Evaluator:
    """Runs the protocol for one personalizer; see the module docstring."""

    def __init__(
        self,
        personalizer: Personalizer | None,
        config: EvalConfig,
        clip: ClipScorer | None = None,
        embedder: TextEmbedder | None = None,
        progress: bool = True,
    ) -> None:
        self.p = personalizer
        self.name = personalizer.name if personalizer is not None else "photod"
        self.cfg = config
        self.clip = clip
        self.embedder = embedder
        self.progress = progress
        self.images = _Images()
        self._base: dict[Path, str] = {}

    def _caption(self, paths: list[Path], fired: list[list[Any]]) -> list[str]:
        """Captions; photos with nothing fired are captioned once and cached (the base
        model's behaviour there does not depend on any concept)."""
        todo = [i for i, f in enumerate(fired) if f or paths[i] not in self._base]
        if todo:
            caps = self.p.caption(self.images([paths[i] for i in todo]), [fired[i] for i in todo])
            for i, c in zip(todo, caps, strict=False):
                if not fired[i]:
                    self._base[paths[i]] = c
            got = dict(zip(todo, caps, strict=False))
        else:
            got = {}
        return [got[i] if i in got else self._base[paths[i]] for i in range(len(paths))]

    def _score(self, c: ConceptData, paths: list[Path], caps: list[str]) -> dict[str, Any]:
        """Similarity metrics of one concept's held-out captions."""
        ident, phrase = c.info.identifier, c.info.class_phrase
        clean = [replace_word(t, ident, phrase) for t in caps]
        out: dict[str, Any] = {"recall": mean_of([float(contains_word(t, ident)) for t in caps])}
        if self.embedder is not None:
            refs = [
                [replace_word(r, ident, phrase) for r in c.captions.get(p.name, [])] for p in paths
            ]
            keep = [i for i, r in enumerate(refs) if r]
            if keep:
                out["text_similarity"] = mean_of(
                    text_similarity(
                        self.embedder, [clean[i] for i in keep], [refs[i] for i in keep]
                    )
                )
        if self.clip is not None:
            out["clipscore"] = mean_of(self.clip.clipscore(self.images(paths), clean))
        if c.scene_captions:
            out["scene_accuracy"] = scene_accuracy(c, paths, caps)
        return out

    def run(self, data: EvalDataset) -> dict[str, Any]:
        """Evaluate every concept on every split; returns the JSON-able report."""
        rng = np.random.default_rng(self.cfg.seed)
        splits = {
            c.info.key: draw_splits(len(c.images), self.cfg.shots, self.cfg.splits, rng)
            for c in data.concepts
        }
        negatives = data.negatives[: self.cfg.max_negatives]
        multi = data.multi[: self.cfg.max_multi]
        per_split = []
        bar = tqdm(
            total=self.cfg.splits * len(data.concepts) * 2, desc="eval", disable=not self.progress
        )
        for k in range(self.cfg.splits):
            per_split.append(self._run_split(data, splits, k, negatives, multi, bar))
        bar.close()
        return {
            "config": asdict(self.cfg),
            "personalizer": self.name,
            "splits": per_split,
            **summarise(per_split),
        }

    def _run_split(self, data, splits, k, negatives, multi, bar) -> dict[str, Any]:
        states, held = train_split(
            self.p, self.images, data.concepts, splits, k, self.cfg, lambda: bar.update(1)
        )
        caps = {
            c.info.key: self._caption(
                held[c.info.key], [[states[c.info.key]]] * len(held[c.info.key])
            )
            for c in data.concepts
        }
        neg_caps = self._caption(negatives, [[] for _ in negatives])
        result: dict[str, Any] = {"concepts": {}}
        for c in data.concepts:
            key, ident = c.info.key, c.info.identifier
            row = self._score(c, held[key], caps[key])
            if c.scene_captions:
                base = self._caption(held[key], [[] for _ in held[key]])
                row["base_scene_accuracy"] = scene_accuracy(c, held[key], base)
            if self.cfg.gate == "always":
                others = negatives + [
                    p for o in data.concepts if o.info.key != key for p in held[o.info.key]
                ]
                other_caps = self._caption(others, [[states[key]]] * len(others))
            else:
                other_caps = neg_caps + [
                    t for o in data.concepts if o.info.key != key for t in caps[o.info.key]
                ]
            row["false_identifier_rate"] = mean_of(
                [float(contains_word(t, ident)) for t in other_caps]
            )
            row["examples"] = [
                [p.name, t] for p, t in zip(held[key][:3], caps[key][:3], strict=True)
            ]
            result["concepts"][key] = row
            bar.update(1)
        if multi:
            result["multi"] = self._multi(data, states, multi)
        return result

    def _multi(self, data: EvalDataset, states: dict, multi) -> dict[str, Any]:
        """Multi-concept scores (:func:`multi_scores`) with the oracle's firing."""
        caps = self._caption(
            [m.image for m in multi], [[states[k] for k in m.concepts] for m in multi]
        )
        out = multi_scores(data, multi, caps)
        base = self._caption([m.image for m in multi], [[] for _ in multi])
        out["base_scene_accuracy"] = multi_scores(data, multi, base)["scene_accuracy"]
        return out


def scene_accuracy(c: ConceptData, paths: list[Path], caps: list[str]) -> float | None:
    """Share of captions that, identifier replaced by the class phrase, are the scene's
    generic caption (the rest of the scene described exactly)."""
    ident, phrase = c.info.identifier, c.info.class_phrase
    return mean_of(
        [
            float(replace_word(t, ident, phrase) == c.scene_captions.get(p.name))
            for t, p in zip(caps, paths, strict=True)
        ]
    )


def multi_scores(data: EvalDataset, multi, caps: list[str]) -> dict[str, Any]:
    """Identifier precision/recall/F1 (micro) and scene accuracy on multi-concept photos,
    pooled and per number of concepts in the photo (``by_count``: the issue's target is
    about two concepts in one scene; the dataset also has photos of three)."""
    infos = {c.info.key: c.info for c in data.concepts}
    counts: dict[int, list[int]] = {}  # concepts in the photo -> [tp, fp, fn]
    exact = []
    for m, t in zip(multi, caps, strict=True):
        present = {infos[k].identifier for k in m.concepts}
        named = {i.identifier for i in infos.values() if contains_word(t, i.identifier)}
        c = counts.setdefault(len(present), [0, 0, 0])
        c[0] += len(present & named)
        c[1] += len(named - present)
        c[2] += len(present - named)
        if m.scene_caption is not None:
            clean = t
            for key in m.concepts:
                clean = replace_word(clean, infos[key].identifier, infos[key].class_phrase)
            exact.append(float(clean == m.scene_caption))
    pooled = [sum(c[i] for c in counts.values()) for i in range(3)]
    return {
        **_prf(*pooled),
        "scene_accuracy": mean_of(exact),
        "n": len(multi),
        "by_count": {str(n): _prf(*c) for n, c in sorted(counts.items())},
    }


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Micro precision, recall and F1 from identifier counts; ``present``: how many
    concept appearances they are out of."""
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "present": tp + fn}


METRICS = (
    "recall",
    "false_identifier_rate",
    "text_similarity",
    "clipscore",
    "scene_accuracy",
    "base_scene_accuracy",
    "head_tpr",
    "head_fpr",
    "head_threshold",
)


def summarise(per_split: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over splits, per concept and over all concepts."""
    keys = list(per_split[0]["concepts"]) if per_split else []
    per_concept = {}
    for key in keys:
        per_concept[key] = {}
        for m in METRICS:
            vals = [s["concepts"][key].get(m) for s in per_split]
            vals = [v for v in vals if v is not None]
            if vals:
                per_concept[key][m] = {"mean": float(np.mean(vals)), "std": float(np.std(vals))}
    overall = {}
    for m in METRICS:
        split_means = [mean_of([s["concepts"][k].get(m) for k in keys]) for s in per_split]
        split_means = [v for v in split_means if v is not None]
        if split_means:
            overall[m] = {"mean": float(np.mean(split_means)), "std": float(np.std(split_means))}
    out: dict[str, Any] = {"per_concept": per_concept, "overall": overall}
    multis = [s["multi"] for s in per_split if "multi" in s]
    if multis:
        out["multi"] = {
            m: {
                "mean": float(np.mean([x[m] for x in multis if x.get(m) is not None])),
                "std": float(np.std([x[m] for x in multis if x.get(m) is not None])),
            }
            for m in ("precision", "recall", "f1", "scene_accuracy", "base_scene_accuracy")
            if any(x.get(m) is not None for x in multis)
        }
        counts = sorted({n for x in multis for n in x.get("by_count", {})}, key=int)
        out["multi"]["by_count"] = {
            n: {
                m: {"mean": float(np.mean(vals)), "std": float(np.std(vals))}
                for m in ("precision", "recall", "f1")
                if (vals := [x["by_count"][n][m] for x in multis if n in x.get("by_count", {})])
            }
            for n in counts
        }
    return out
