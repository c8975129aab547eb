"""Semantic search: the CLIP text tower encodes the query, the nearest photo embeddings win.

:class:`ClipRanker` implements the search engine's ``SemanticRanker`` protocol
(``rank(text, limit) -> [(photo_id, cosine similarity), ...]``, best first). Only photos at
or above ``clip.search_threshold`` are returned: below it a photo is no more like the words
than unrelated photos are (docs/duplicates-and-semantic.md tells how the default was set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not imported at run time: `photod search` starts without them
    from photod.config import ClipConfig
    from photod.index import Index
    from photod.models.clip import ClipEmbedder


class ClipRanker:
    """Photos by cosine similarity between the query's text embedding and their image's."""

    def __init__(self, index: Index, clip: ClipEmbedder, threshold: float) -> None:
        self._index = index
        self._clip = clip
        self.threshold = threshold

    @classmethod
    def create(cls, config: ClipConfig, index: Index, clip: ClipEmbedder) -> ClipRanker | None:
        """The ranker of ``config``; None when CLIP is off (search then uses the rest)."""
        if not config.enabled:
            return None
        return cls(index, clip, config.search_threshold)

    def rank(self, text: str, limit: int) -> list[tuple[int, float]]:
        """(photo id, cosine similarity) of up to ``limit`` photos above the threshold."""
        if not text.strip():
            return []
        model = self._clip.model_id
        if not len(self._index.vectors.contents(model)):
            return []  # nothing embedded yet: no need to load the model
        query = self._clip.encode_text([text])[0]
        return self._index.vectors.nearest_photos(model, query, limit, self.threshold)
