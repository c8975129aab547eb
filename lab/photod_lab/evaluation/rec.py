"""The REC section of ``photod eval``: "where is <concept>?" answered with a box.

For each number of training images (``shots``: 1 and 4 by default) and split, every concept's
embedding is trained as ``photod concept train`` does (:class:`MyVLMPersonalizer`), then the
grounding VLM is asked where the concept is, its embedding appended
(:func:`photod.vlm.grounding.locate`, what ``photod locate`` and the daemon run):

- accuracy: held-out photos of the concept where the box has IoU >= 0.5 with the concept's
  (``boxes.json``);
- absent box rate: photos without the concept (``_negatives``, half of them holding its plain
  look-alike, and the other concepts' held-out photos) where a box came back at all;
- the base model asked about the class instead ("the star"): accuracy on the same photos and
  its box rate where the concept is absent (a look-alike of the class gets a box: the class
  cannot tell the user's object from another).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from photod.faces.base import iou
from photod.vlm.grounding import grounding_models, locate, locate_plain
from photod_lab.evaluation.dataset import EvalDataset
from photod_lab.evaluation.harness import _Images, draw_splits, mean_of, train_split
from photod_lab.evaluation.myvlm import MyVLMPersonalizer

#: ``fired_rate`` (held-out photos of the concept where its head fired) only for head rows.
REC_METRICS = (
    "accuracy",
    "absent_box_rate",
    "fired_rate",
    "base_accuracy",
    "base_absent_box_rate",
)


@dataclass
class RecConfig:
    """REC protocol settings."""

    shots: tuple[int, ...] = (1, 4)
    splits: int = 1
    seed: int = 0
    targets: str = "generated"
    max_heldout: int | None = None
    max_absent: int | None = 48


class RecEvaluator:
    """Runs the REC protocol with one MyVLM personalizer on a grounding model."""

    def __init__(self, p: MyVLMPersonalizer, config: RecConfig, progress: bool = True) -> None:
        self.p, self.cfg, self.progress = p, config, progress
        models = grounding_models(p.runtime)
        if not models:
            raise ValueError(f"{p.entry.id} has no grounding settings: it cannot answer with boxes")
        self.model_id = models[0]
        self.images = _Images()

    def _boxes(self, paths: list[Path], fired=None, phrase: str | None = None) -> list:
        images = self.images(paths)
        if phrase is not None:
            return [
                locate_plain(self.p.runtime, self.model_id, im, [phrase])[0].box for im in images
            ]
        return [locate(self.p.runtime, self.model_id, im, [fired])[0].box for im in images]

    def run(self, data: EvalDataset) -> dict[str, Any]:
        """Every shot count, split and concept; the JSON-able REC section."""
        header = {"model": self.model_id, "box_source": "vlm"}
        return run_protocol(self.cfg, data, self._split, header, self.progress)

    def _split(self, data, concepts, splits, k, bar) -> dict[str, dict[str, float | None]]:
        states, held = train_split(self.p, self.images, concepts, splits, k, self.cfg)
        rows = {}
        for c in concepts:
            key = c.info.key
            absent = absent_photos(data, concepts, held, key, self.cfg.max_absent)
            truth = [c.boxes[p.name] for p in held[key]]
            phrase = f"the {c.info.class_word}"
            got = self._boxes(held[key], states[key])
            base = self._boxes(held[key], phrase=phrase)
            rows[key] = {
                "accuracy": box_accuracy(got, truth),
                "absent_box_rate": mean_of(
                    [float(b is not None) for b in self._boxes(absent, states[key])]
                ),
                "base_accuracy": box_accuracy(base, truth),
                "base_absent_box_rate": mean_of(
                    [float(b is not None) for b in self._boxes(absent, phrase=phrase)]
                ),
                "n": len(truth),
                "n_absent": len(absent),
            }
            bar.update(1)
        return rows


def run_protocol(
    cfg: RecConfig, data: EvalDataset, split: Callable, header: dict, progress: bool
) -> dict[str, Any]:
    """Every shot count and split of ``data``'s concepts with boxes: ``split(data, concepts,
    splits, k, bar)`` gives split ``k``'s rows per concept; summarised under the shot count."""
    concepts = [c for c in data.concepts if c.boxes]
    if not concepts:
        raise ValueError("no concept has boxes (boxes.json): REC cannot be scored")
    out: dict[str, Any] = {"config": vars(cfg).copy(), **header}
    total = len(cfg.shots) * cfg.splits * len(concepts)
    bar = tqdm(total=total, desc=f"rec ({header['box_source']})", disable=not progress)
    for shots in cfg.shots:
        rng = np.random.default_rng(cfg.seed)
        splits = {c.info.key: draw_splits(len(c.images), shots, cfg.splits, rng) for c in concepts}
        out[str(shots)] = summarise_rec(
            [split(data, concepts, splits, k, bar) for k in range(cfg.splits)]
        )
    bar.close()
    return out


def absent_photos(data: EvalDataset, concepts, held: dict, key: str, limit: int | None) -> list:
    """Photos without concept ``key``: the negatives, then the other concepts' held-out ones."""
    absent = data.negatives + [p for o in concepts if o.info.key != key for p in held[o.info.key]]
    return absent[:limit]


def box_accuracy(got: list, truth: list) -> float | None:
    """Share of photos whose box has IoU >= 0.5 with the truth (no box: a miss)."""
    return mean_of(
        [float(b is not None and iou(b, t) >= 0.5) for b, t in zip(got, truth, strict=True)]
    )


def summarise_rec(rows: list[dict[str, dict]]) -> dict[str, Any]:
    """Per concept and overall: mean and std over splits of each REC metric."""
    keys = list(rows[0]) if rows else []
    per_concept = {
        key: {
            m: {"mean": float(np.mean(v)), "std": float(np.std(v))}
            for m in REC_METRICS
            if (v := [r[key][m] for r in rows if r[key].get(m) is not None])
        }
        for key in keys
    }
    overall = {}
    for m in REC_METRICS:
        means = [mean_of([r[k].get(m) for k in keys]) for r in rows]
        means = [v for v in means if v is not None]
        if means:
            overall[m] = {"mean": float(np.mean(means)), "std": float(np.std(means))}
    return {"per_concept": per_concept, "overall": overall, "splits": rows}


def format_rec(section: dict[str, Any]) -> str:
    """The REC lines of the printed report (percentages, mean±std over splits)."""
    source = section.get("box_source", "vlm")
    lines = [
        f"REC, box source: {source} ({section['model']}: IoU >= 0.5; "
        "absent = photos without the concept)"
    ]
    for shots in (k for k in section if k.isdigit()):
        o = section[shots]["overall"]
        cells = "  ".join(
            f"{m}={o[m]['mean'] * 100:.1f}±{o[m]['std'] * 100:.1f}" for m in REC_METRICS if m in o
        )
        lines.append(f"  {shots} image(s): {cells}")
    return "\n".join(lines)
