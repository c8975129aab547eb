"""``--gate heads``: the protocol of :mod:`photod_lab.evaluation.harness` run through photod.

Each split's concepts are taught to a :class:`~photod_lab.evaluation.product.PhotodInstallation`
over the dataset's folder; the captions and detections the daemon then wrote are scored as
the harness scores any personalizer's. Beside the caption figures, each concept's row has its
head's figures: ``head_tpr`` (held-out photos of the concept where the head fired),
``head_fpr`` (photos without it where it fired: the same photos as the false identifier
rate) and ``head_threshold`` (the probability its training chose).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from photod_lab.evaluation.dataset import EvalDataset
from photod_lab.evaluation.harness import (
    EvalConfig,
    Evaluator,
    mean_of,
    multi_scores,
    scene_accuracy,
)
from photod_lab.evaluation.product import PhotodInstallation
from photod_lab.evaluation.scoring import ClipScorer, TextEmbedder, contains_word


class HeadsEvaluator(Evaluator):
    """The harness with photod's own heads, training and captions; see the module docstring."""

    def __init__(
        self,
        photod: PhotodInstallation,
        config: EvalConfig,
        clip: ClipScorer | None = None,
        embedder: TextEmbedder | None = None,
        progress: bool = True,
    ) -> None:
        super().__init__(None, config, clip, embedder, progress)
        self.photod = photod
        self.name = f"photod:{photod.model_id}"

    def run(self, data: EvalDataset) -> dict[str, Any]:
        """Index the dataset once (base captions), then run the protocol."""
        self.photod.index_library()
        return super().run(data)

    def _run_split(self, data, splits, k, negatives, multi, bar) -> dict[str, Any]:
        taught, held = [], {}
        for c in data.concepts:
            train_idx, test_idx = splits[c.info.key][k]
            taught.append((c, [c.images[i] for i in train_idx]))
            held[c.info.key] = [c.images[i] for i in test_idx][: self.cfg.max_heldout]
        out = self.photod.run_split(taught, self.cfg.targets)
        bar.update(len(data.concepts))
        base = self.photod.base_captions()

        def caps(paths: list[Path], source=out.captions) -> list[str]:
            return [source.get(p.resolve(), "") for p in paths]

        def fired(key: str, paths: list[Path]) -> float | None:
            return mean_of([float(key in out.fired.get(p.resolve(), ())) for p in paths])

        # The training metrics `photod concept train` stored (threshold, seconds...).
        result: dict[str, Any] = {"concepts": {}, "training": out.heads}
        for c in data.concepts:
            key, ident, photos = c.info.key, c.info.identifier, held[c.info.key]
            row = self._score(c, photos, caps(photos))
            if c.scene_captions:
                row["base_scene_accuracy"] = scene_accuracy(c, photos, caps(photos, base))
            others = negatives + [
                p for o in data.concepts if o.info.key != key for p in held[o.info.key]
            ]
            row["false_identifier_rate"] = mean_of(
                [float(contains_word(t, ident)) for t in caps(others)]
            )
            row["head_tpr"] = fired(key, photos)
            row["head_fpr"] = fired(key, others)
            row["head_threshold"] = out.heads.get(key, {}).get("threshold")
            row["examples"] = [
                [p.name, t] for p, t in zip(photos[:3], caps(photos[:3]), strict=True)
            ]
            result["concepts"][key] = row
            bar.update(1)
        if multi:
            photos = [m.image for m in multi]
            result["multi"] = multi_scores(data, multi, caps(photos))
            result["multi"]["base_scene_accuracy"] = multi_scores(data, multi, caps(photos, base))[
                "scene_accuracy"
            ]
        return result
