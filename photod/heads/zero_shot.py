"""CLIP zero-shot tags: the words of a configured vocabulary that a photo looks like.

Each word of ``clip.zero_shot_tags`` is encoded once by the CLIP text tower; a photo gets the
word as a tag (source ``clip``, model ``<clip model>#zero-shot``) when the cosine similarity
of its image embedding to the word's reaches ``clip.zero_shot_threshold``. It is a head only
to share the one CLIP embedding the heads stage computes per photo: it has no concepts and
adds tags, not detections. Off (no head) with an empty vocabulary or CLIP off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from photod.heads.base import HeadBase
from photod.heads.features import CLIP, SharedFeatures
from photod.pipeline.task import Detection, PhotoTask, Tag

if TYPE_CHECKING:
    from photod.app import App

SOURCE = "clip"


class ZeroShotTags(HeadBase):
    """Tags photos with the vocabulary words their CLIP embedding is close to."""

    name = "zero-shot"
    needs: ClassVar[frozenset[str]] = frozenset({CLIP})

    def __init__(self, features: SharedFeatures, words: list[str], threshold: float) -> None:
        super().__init__()
        self._features = features
        self.words = words
        self.threshold = threshold
        self._text: np.ndarray | None = None  # [words, dim], encoded on the first photo

    @classmethod
    def create(cls, app: App) -> ZeroShotTags | None:
        """None when CLIP is off or the vocabulary is empty."""
        c = app.config.clip
        words = list(dict.fromkeys(w.strip() for w in c.zero_shot_tags if w.strip()))
        if not c.enabled or not words:
            return None
        return cls(app.features, words, c.zero_shot_threshold)

    @property
    def model_id(self) -> str:
        """The tags are only valid for the CLIP model that scored them."""
        return f"{self._features.clip.model_id}#zero-shot"

    def wants_features(self) -> bool:
        """Every photo is tagged, with or without concepts."""
        return True

    def scores(self, embedding: np.ndarray) -> np.ndarray:
        """Cosine similarity of ``embedding`` to each vocabulary word."""
        if self._text is None:
            self._text = self._features.clip.encode_text(self.words)
        return self._text @ np.asarray(embedding, np.float32)

    def score(self, task: PhotoTask) -> list[Detection]:
        """Add a tag per word at or above the threshold; no detections."""
        emb = task.features.get(CLIP)
        if emb is None:
            return []
        for word, s in zip(self.words, self.scores(emb).tolist(), strict=True):
            if s >= self.threshold:
                task.tags.append(Tag(word, SOURCE, self.model_id, round(float(s), 4)))
        return []
