"""What a head's training may use: decoded example photos, shared features, the library."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from photod.config import ConceptsConfig
from photod.errors import PhotoError
from photod.heads.features import SharedFeatures
from photod.index import Index
from photod.index.concepts import ConceptError
from photod.ingest.decode import DecodeLimits, decode_photo
from photod.pipeline.task import Face

log = logging.getLogger(__name__)


@dataclass
class TrainContext:
    """Per-training helpers; images are decoded like the pipeline does (oriented, bounded)."""

    index: Index
    features: SharedFeatures
    config: ConceptsConfig
    #: The pipeline's decode limits (``ingest``): an example is decoded as a library photo is.
    limits: DecodeLimits
    seed: int = 0
    _images: dict[str, tuple[Image.Image, str]] = field(default_factory=dict, repr=False)

    def image(self, path: str) -> tuple[Image.Image, str]:
        """(working image, content hash) of an example photo."""
        if path not in self._images:
            try:
                decoded = decode_photo(path, self.limits)
            except PhotoError as exc:
                raise ConceptError(f"example {path}: {exc}") from exc
            self._images[path] = (decoded.image, decoded.info.content_hash)
        return self._images[path]

    def holdout(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(held-out, training) indices of ``n`` examples: ``holdout_fraction`` of them held
        out when there are 4 or more. Whole examples are held out, never augmented views of a
        training image: no leakage into the metrics."""
        n_hold = int(n * self.config.holdout_fraction) if n >= 4 else 0
        order = rng.permutation(n)
        return order[:n_hold], order[n_hold:]

    def faces_of(self, path: str) -> list[Face]:
        """The faces of an example photo (current face backend)."""
        return self.features.face_backend.detect([self.image(path)[0]])[0]

    def library_embeddings(
        self, exclude: set[str], want: int, rng: np.random.Generator
    ) -> tuple[list[str], np.ndarray]:
        """Cached CLIP embeddings of indexed photos (not in ``exclude``): hashes, matrix.

        When fewer than ``want`` are cached (photos indexed before CLIP was on), embeds a
        random sample of the others now and caches them.
        """
        stored = self.index.features
        model = self.features.clip.model_id
        rows = [r for r in stored.library_clip(model) if r[0] not in exclude]
        hashes = [h for h, _ in rows]
        embs = [e for _, e in rows]
        if len(hashes) < want:
            extra = [(path, h) for _, path, h in stored.photos_without_clip(model)]
            rng.shuffle(extra)
            for path, h in extra[: want - len(hashes)]:
                if h in exclude:
                    continue
                try:
                    img, _ = self.image(path)
                except ConceptError as exc:
                    log.debug("negative mining skips %s: %s", path, exc)
                    continue
                hashes.append(h)
                embs.append(self.features.clip_by_hash([img], [h])[0])
        dim = embs[0].shape[0] if embs else 0
        return hashes, np.stack(embs) if embs else np.zeros((0, dim), np.float32)

    def library_patches(self, exclude: set[str], want: int, rng: np.random.Generator) -> np.ndarray:
        """``[photos, patches, dim]`` patch features of up to ``want`` random indexed photos
        (not in ``exclude``), read from the cache or computed (and cached) now."""
        stored = self.index.features
        model = self.features.patches.model_id
        rows = [(path, h) for _, path, h in stored.indexed_photos() if h not in exclude]
        by_hash = {h: p for p, h in rows}  # duplicates: one content, one negative
        hashes = sorted(by_hash)
        picked = [hashes[i] for i in rng.permutation(len(hashes))[:want]]
        cached = stored.cached_clip(model, picked)
        images: list[Image.Image | None] = []
        keep = []
        for h in picked:
            try:
                images.append(None if h in cached else self.image(by_hash[h])[0])
            except ConceptError as exc:
                log.debug("the library sample skips %s: %s", by_hash[h], exc)
                continue
            keep.append(h)
        if not keep:
            return np.zeros((0, 1, 1), np.float32)
        return self.features.patches_by_hash(images, keep)
