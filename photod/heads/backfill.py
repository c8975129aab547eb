"""CLIP embeddings for the photos indexed while CLIP was off (or under another CLIP model).

Their rows exist, their embeddings do not: semantic search and near-duplicates would never
see them. :func:`backfill_clip` embeds them through the shared features' cache (decoded as
the pipeline decodes), without re-running their other stages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from photod.errors import PhotoError
from photod.heads.features import SharedFeatures
from photod.index import Index
from photod.ingest.decode import DecodeLimits, decode_photo

log = logging.getLogger(__name__)


def backfill_clip(
    index: Index,
    features: SharedFeatures,
    limits: DecodeLimits,
    *,
    batch: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed every indexed photo that has no embedding of the current CLIP model; return
    how many were embedded (a photo that cannot be read now is skipped and logged)."""
    todo = index.features.photos_without_clip(features.clip.model_id)
    done = 0
    for start in range(0, len(todo), batch):
        images, hashes = [], []
        for _, path, content_hash in todo[start : start + batch]:
            try:
                images.append(decode_photo(path, limits).image)
            except PhotoError as exc:
                log.warning("no CLIP embedding for %s: %s", path, exc)
                continue
            hashes.append(content_hash)
        if images:
            features.clip_by_hash(images, hashes)
            done += len(images)
        if progress is not None:
            progress(min(start + batch, len(todo)), len(todo))
    if done:
        # The cache writes are queued on the writer, not awaited: one more (empty) write
        # returns once they are committed, so the caller reads every new embedding.
        index.write(lambda db: None)
    return done
