"""photod-colour: a concept head that recognises things by their colour signature.

Each example becomes a normalised hue/saturation histogram (of its central region, where the
subject usually is); a photo matches when the histogram intersection with the closest example
reaches the concept's threshold, chosen between the examples' similarity to each other and
that of a random sample of the user's own photos.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from photod.heads.base import HeadBase, LoadedConcept, Trained
from photod.pipeline.task import Detection
from photod.plugins import hookimpl

HUE_BINS, SAT_BINS = 18, 4
NEGATIVE_SAMPLE = 48


def histogram(image: Image.Image) -> np.ndarray:
    """Normalised hue x saturation histogram of the central 80% (greys carry no hue)."""
    w, h = image.size
    small = image.crop((w // 10, h // 10, w - w // 10, h - h // 10)).resize((96, 96))
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32).reshape(-1, 3)
    colourful = hsv[:, 1] > 40  # near-grey pixels have an arbitrary hue
    hist, _, _ = np.histogram2d(
        hsv[colourful, 0],
        hsv[colourful, 1],
        bins=(HUE_BINS, SAT_BINS),
        range=((0, 256), (0, 256)),
    )
    hist = hist.ravel().astype(np.float32)
    # Greys get one bin of their own so a grey photo is not "empty".
    hist = np.append(hist, float((~colourful).sum()))
    return hist / max(hist.sum(), 1.0)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Histogram intersection of ``[n, bins]`` against ``[m, bins]`` -> ``[n, m]`` in [0, 1]."""
    return np.minimum(a[:, None, :], b[None, :, :]).sum(-1)


class ColourHead(HeadBase):
    """Recognises concepts whose head is ``colour``."""

    name = "colour"
    needs: ClassVar[frozenset[str]] = frozenset()  # reads the working image itself

    @classmethod
    def create(cls, app) -> ColourHead:
        """No model to load, nothing to read from the host app."""
        return cls()

    @property
    def model_id(self) -> str:
        """The histogram layout is the model."""
        return f"colour-hist-{HUE_BINS}x{SAT_BINS}"

    def score(self, task) -> list[Detection]:
        """Every concept whose closest example is similar enough."""
        if not self.concepts or task.image is None:
            return []
        h = histogram(task.image)[None]
        out = []
        for lc in self.concepts:
            s = float(similarity(h, lc.tensors["histograms"]).max())
            if s >= lc.meta["threshold"]:
                out.append(Detection(lc.concept.id, s, self.model_id, lc.concept.version))
        return out

    def train(self, concept, examples, ctx) -> Trained:
        """Histograms of the examples; threshold between positives and library photos."""
        from photod.index.concepts import ConceptError

        if len(examples) < 2:
            raise ConceptError(f"{concept.name}: the colour head needs at least 2 examples")
        pos = np.stack([histogram(ctx.image(e.path)[0]) for e in examples])
        sims = similarity(pos, pos)
        np.fill_diagonal(sims, -1)
        loo = sims.max(axis=1)  # each example against the others
        exclude = {ctx.image(e.path)[1] for e in examples}
        neg = self._library_sample(ctx, exclude)
        neg_best = similarity(neg, pos).max(axis=1) if len(neg) else np.zeros(0)
        hi = float(np.quantile(neg_best, 0.95)) if len(neg_best) else 0.0
        lo = float(np.quantile(loo, 0.25))
        threshold = (lo + hi) / 2 if lo > hi else lo
        metrics = {
            "examples": len(examples),
            "leave_one_out_recall": float((loo >= threshold).mean()),
            "library_fire_rate": float((neg_best >= threshold).mean()) if len(neg) else None,
            "negatives": int(len(neg)),
            "threshold": threshold,
        }
        return Trained({"histograms": pos}, {"threshold": threshold}, self.model_id, metrics)

    def _library_sample(self, ctx, exclude: set[str]) -> np.ndarray:
        rows = ctx.index.photos.sample_indexed(NEGATIVE_SAMPLE)
        hists = []
        for path, h in rows:
            if h in exclude:
                continue
            try:
                hists.append(histogram(ctx.image(path)[0]))
            except Exception:  # a photo that vanished is simply not a negative
                continue
        return np.stack(hists) if hists else np.zeros((0, HUE_BINS * SAT_BINS + 1), np.float32)

    def fires_on(self, loaded: LoadedConcept, index) -> None:
        """Histograms are not stored: every photo may change (re-run all)."""
        return None


@hookimpl
def photod_heads() -> list[type]:
    """Register the colour head."""
    return [ColourHead]
