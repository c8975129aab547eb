"""Shared features, computed once per photo for every head that needs them.

Faces (boxes, landmarks, scores, embeddings), the CLIP image embedding and, for instance
heads, patch features (``patches``: a DINOv2 grid of L2-normalised tokens). The backends load
lazily and are shared by the heads stage and by training, so each model is in memory once.
The CLIP embedding and the patch features are cached in the index by content hash and model
(the patch grid flattened): a forced re-run after a retrain, a moved photo or a duplicate
reuses them, and training mines negatives from them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property

import numpy as np
from PIL import Image

from photod.config import Config
from photod.errors import ModelLoadError
from photod.faces import create_face_backend, match_threshold
from photod.faces.base import FaceBackend
from photod.index import Index
from photod.models.cache import ModelSessions
from photod.models.clip import ClipEmbedder
from photod.models.features import PatchEmbedder
from photod.pipeline.task import Face, PhotoTask

log = logging.getLogger(__name__)

FACES, CLIP, PATCHES = "faces", "clip", "patches"


class SharedFeatures:
    """Lazily built face backend and CLIP embedder plus the per-photo feature computation.

    Built once by the composition root; each model session is added to ``models`` (which
    unloads it when idle) when it is first used. ``face_backend`` / ``clip``: ready sessions
    to use instead of the configured ones (a benchmark's own CLIP).
    """

    def __init__(
        self,
        config: Config,
        index: Index,
        models: ModelSessions,
        *,
        face_backend: FaceBackend | None = None,
        clip: ClipEmbedder | None = None,
    ) -> None:
        self._cfg = config
        self._index = index
        self._models = models
        self._broken: set[str] = set()
        if face_backend is not None:
            self.__dict__["face_backend"] = face_backend
        if clip is not None:
            self.__dict__["clip"] = clip

    @cached_property
    def face_backend(self) -> FaceBackend:
        """The configured face backend (models load on first detection)."""
        return self._models.add(create_face_backend(self._cfg.faces, self._cfg.paths.cache_dir))

    @cached_property
    def clip(self) -> ClipEmbedder:
        """The configured CLIP embedder (the model loads on first embedding)."""
        c = self._cfg.clip
        return self._models.add(
            ClipEmbedder(
                c.model,
                self._cfg.paths.cache_dir,
                device=c.device,
                batch_size=c.batch_size,
                idle_unload_seconds=c.idle_unload_seconds,
                offline=self._cfg.models.offline,
            )
        )

    @cached_property
    def patches(self) -> PatchEmbedder:
        """The object head's patch-feature model (loads on first embedding)."""
        c = self._cfg.heads.object
        return self._models.add(
            PatchEmbedder(
                c.feature_model,
                self._cfg.paths.cache_dir,
                device=c.device,
                batch_size=c.batch_size,
                max_grid=c.max_grid,
                idle_unload_seconds=c.idle_unload_seconds,
                offline=self._cfg.models.offline,
            )
        )

    @property
    def face_threshold(self) -> float:
        """Distance at which two faces are the same person."""
        return match_threshold(self._cfg.faces, self.face_backend)

    def compute(
        self, tasks: Sequence[PhotoTask], needs: set[str], optional: set[str] = frozenset()
    ) -> None:
        """Fill ``task.faces`` and/or ``task.features["clip"]`` for each task, batched.

        A feature in ``optional`` (wanted by a head that has no concept yet) whose model
        cannot load is turned off with one error message instead of failing every photo.
        """
        for name in sorted(set(optional) - set(needs) - self._broken):
            try:
                self.compute(tasks, {name})
            except ModelLoadError as exc:
                log.error("%s features are off until the model is fixed: %s", name, exc)
                self._broken.add(name)
        if FACES in needs:
            todo = [t for t in tasks if not self._reuse_faces(t)]
            if todo:
                for task, faces in zip(
                    todo, self.face_backend.detect([t.image for t in todo]), strict=True
                ):
                    task.faces = faces
        if CLIP in needs:
            self._compute_clip(tasks)
        if PATCHES in needs:
            ready = [t for t in tasks if t.info is not None and t.image is not None]
            if ready:
                grids = self.patches_by_hash(
                    [t.image for t in ready], [t.info.content_hash for t in ready]
                )
                for task, grid in zip(ready, grids, strict=True):
                    task.features[PATCHES] = grid

    def available(self, name: str) -> bool:
        """False once feature ``name`` was turned off because its model could not load (the
        error was logged then: callers need not try, and say it, again)."""
        return name not in self._broken

    def _reuse_faces(self, task: PhotoTask) -> bool:
        # A forced re-run (after a retrain) of unchanged content: the stored faces are exact.
        if not task.job.payload.get("force") or task.info is None:
            return False
        model = self.face_backend.model_id
        rows = self._index.features.stored_faces(task.path, task.info.content_hash, model)
        if not rows or any(emb is None for _, _, emb, _ in rows):
            return False
        task.faces = [
            Face(box=box, score=score, model=model, embedding=emb, landmarks=landmarks)
            for box, score, emb, landmarks in rows
        ]
        return True

    def patches_by_hash(self, images: Sequence[Image.Image], hashes: Sequence[str]) -> np.ndarray:
        """``[photos, patches, dim]`` patch features through the index's cache."""
        model = self.patches.model_id
        cached = self._index.features.cached_clip(model, hashes) if hashes else {}
        missing = [i for i, h in enumerate(hashes) if h not in cached]
        out: dict[str, np.ndarray] = {}
        if missing:
            grids = self.patches.embed([images[i] for i in missing])
            rows = []
            for i, g in zip(missing, grids, strict=True):
                out[hashes[i]] = g
                rows.append((hashes[i], model, g.astype(np.float32).tobytes()))
            self._index.features.store_clip(rows)  # the same cache table, keyed by model
        dim = next(iter(out.values())).shape[1] if out else self.patches.dim
        for h, flat in cached.items():
            out[h] = flat.reshape(-1, dim)
        return np.stack([out[h] for h in hashes])

    def cached_clip(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached CLIP embeddings of these content hashes (current model)."""
        if not hashes:
            return {}
        return self._index.features.cached_clip(self.clip.model_id, hashes)

    def clip_by_hash(self, images: Sequence[Image.Image], hashes: Sequence[str]) -> np.ndarray:
        """CLIP embeddings of images with known content hashes, through the cache."""
        cached = self.cached_clip(hashes)
        missing = [i for i, h in enumerate(hashes) if h not in cached]
        if missing:
            embs = self.clip.embed([images[i] for i in missing])
            rows = []
            for i, e in zip(missing, embs, strict=True):
                cached[hashes[i]] = e
                rows.append((hashes[i], self.clip.model_id, e.astype(np.float32).tobytes()))
            # Not awaited: the cache is an optimisation, the photo's commit does not need it.
            self._index.features.store_clip(rows)
        return np.stack([cached[h] for h in hashes])

    def _compute_clip(self, tasks: Sequence[PhotoTask]) -> None:
        ready = [t for t in tasks if t.info is not None and t.image is not None]
        if not ready:
            return
        embs = self.clip_by_hash([t.image for t in ready], [t.info.content_hash for t in ready])
        for task, emb in zip(ready, embs, strict=True):
            task.features[CLIP] = emb

    def close(self) -> None:
        """Free the models."""
        for name in ("face_backend", "clip", "patches"):
            obj = self.__dict__.get(name)
            if obj is not None:
                obj.close()
