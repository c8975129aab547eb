"""Concept embedding training on a compute worker: one Ray task per concept.

The head of a concept trains on the driver (it mines negatives in the library's index); the
expensive part, each VLM's embedding (base-written targets and the embedding optimisation),
runs as a task on a worker (:func:`train_on_worker`), which receives the bytes of the exact
examples the head trained on and returns the tensors and their metadata. The driver
(:class:`RayEmbeddings`) writes them into the new version's folder, so the version appears
through the same atomic switch as a local training: complete or absent.

A worker loads its VLMs through the model-session layer; it trains only when its models are
the driver's (the same :func:`~photod.compute.worker.model_versions`), and the version is
recorded in each embedding's metadata. When the cluster cannot be reached the driver says so
once and trains here.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photod.compute.worker import model_versions, worker_config
from photod.concepts.training import EmbeddingRequest
from photod.config import Config
from photod.errors import PhotoError
from photod.index.concepts import ConceptError
from photod.ingest.decode import DecodeLimits, decode_bytes
from photod.ingest.reading import read_file

if TYPE_CHECKING:
    from photod.vlm.runtime import VlmRuntime

log = logging.getLogger(__name__)

#: Builds a worker's VLM runtime from its configuration; returns it and what frees it.
BuildVlm = Callable[[Config], "tuple[VlmRuntime, Callable[[], None]]"]


@dataclass
class EmbeddingJob:
    """What travels to the worker: the request, its images' bytes, the driver's models."""

    request: EmbeddingRequest
    images: list[bytes]
    versions: dict[str, str]


@dataclass
class EmbeddingResult:
    """What comes back: ``(vlm id, tensor, metadata)`` per VLM and the worker's models
    (no embeddings when they are not the driver's)."""

    versions: dict[str, str]
    embeddings: list[tuple[str, Any, dict[str, Any]]] = field(default_factory=list)


def vlm_versions(config: Config) -> dict[str, str]:
    """The versions of the configured VLMs (``vlm:<id>`` -> reference with its digest)."""
    return {k: v for k, v in model_versions(config, []).items() if k.startswith("vlm:")}


def train_on_worker(build: BuildVlm, config: Config, job: EmbeddingJob) -> EmbeddingResult:
    """The body of the Ray task: decode the images, train every VLM's embedding into a
    scratch folder and return them (nothing when this machine's models differ)."""
    from photod.vlm.concept_training import train_concept_embedding
    from photod.vlm.embeddings import load_embedding

    with tempfile.TemporaryDirectory(prefix="photod-train-") as scratch:
        cfg = worker_config(config, Path(scratch))
        versions = vlm_versions(cfg)
        if versions != job.versions:
            return EmbeddingResult(versions)
        limits = DecodeLimits.from_config(cfg.ingest)
        images = [decode_bytes(data, limits)[1] for data in job.images]
        runtime, close = build(cfg)
        folder = Path(scratch) / "version"
        try:
            request = job.request
            out = train_concept_embedding(
                runtime,
                identifier=request.identifier,
                class_word=request.class_word,
                kind=request.kind,
                images=images,
                version_dir=folder,
                targets=request.targets,
                progress=False,
                distractors=request.distractors,
            )
            loaded = {vlm_id: load_embedding(folder, vlm_id) for vlm_id in out}
        finally:
            close()
        return EmbeddingResult(versions, [(k, v[0], v[1]) for k, v in loaded.items() if v])


class RayEmbeddings:
    """The trainer's ``remote``: each concept's embeddings as one task on the cluster."""

    def __init__(
        self,
        config: Config,
        run: Callable[[EmbeddingJob], EmbeddingResult],
        unreachable: type[Exception],
    ) -> None:
        """``run``: sends a job to the cluster and waits for it (see
        :func:`photod.compute.cluster.run_embedding_task`), raising ``unreachable`` when
        the cluster cannot be used."""
        self._config = config
        self._run = run
        self._unreachable = unreachable
        self._limits = DecodeLimits.from_config(config.ingest)
        self._lock = threading.Lock()
        self._next_try = 0.0
        self._said = False

    def __call__(
        self, request: EmbeddingRequest, folder: Path, here: Callable[[], dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Train on the cluster and write the embeddings into ``folder``; train ``here``
        while the cluster cannot be reached (tried again every ``compute.retry_seconds``)."""
        from photod.vlm.embeddings import save_embedding

        if time.monotonic() < self._next_try:
            return here()
        versions = vlm_versions(self._config)
        try:
            result = self._run(EmbeddingJob(request, self._bytes(request.paths), versions))
            if result.versions != versions:
                raise self._unreachable(
                    f"the worker runs other models: {result.versions}, here {versions}"
                )
        except self._unreachable as exc:
            self._fell_back(exc)
            return here()
        with self._lock:
            if self._said:
                log.info("the Ray cluster is back: concept embeddings train there again")
            self._said = False
        out = {}
        for vlm_id, tensor, meta in result.embeddings:
            out[vlm_id] = {**meta, "model_version": versions[f"vlm:{vlm_id}"]}
            save_embedding(folder, vlm_id, tensor, out[vlm_id])
        return out

    def _bytes(self, paths: list[str]) -> list[bytes]:
        try:
            return [read_file(p, self._limits.max_bytes)[0] for p in paths]
        except PhotoError as exc:
            raise ConceptError(f"example: {exc}") from exc

    def _fell_back(self, exc: Exception) -> None:
        with self._lock:
            self._next_try = time.monotonic() + self._config.compute.retry_seconds
            if self._said:  # once, not for every concept while it stays away
                log.debug("the Ray cluster is still unusable: %s", exc)
                return
            self._said = True
        log.warning("%s; concept embeddings train here", exc)
