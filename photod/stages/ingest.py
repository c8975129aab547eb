"""The ingest stage: decode once, hash, and notice photos whose content did not change."""

from __future__ import annotations

import warnings

from PIL import Image

from photod.ingest.decode import DecodeLimits, decode_photo
from photod.pipeline.stage import INGEST, BaseStage
from photod.pipeline.task import PhotoTask
from photod.services import Services


class IngestStage(BaseStage):
    """Read, hash and decode each photo into a bounded working image."""

    name = "ingest"
    position = INGEST
    runs_on_unchanged = True

    def __init__(self, services: Services, limits: DecodeLimits, workers: int) -> None:
        self._services = services
        self._limits = limits
        self.workers = workers  # decoding releases the GIL: threads scale on cores

    @classmethod
    def create(cls, services: Services) -> IngestStage:
        """Build from the ``ingest`` and ``pipeline`` config sections."""
        import pillow_heif

        # Registering the HEIF opener is a process-wide PIL setting; do it when the stage is
        # built rather than at import time.
        pillow_heif.register_heif_opener()
        # decode_photo enforces its own pixel limit and refuses real bombs; PIL's warning for
        # merely big photos would only add noise. A filter set once here, because
        # warnings.catch_warnings() around each decode is not thread-safe.
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
        cfg = services.config.ingest
        limits = DecodeLimits(
            working_size=cfg.working_size,
            max_pixels=cfg.max_pixels,
            max_bytes=int(cfg.max_file_mb * 2**20),
        )
        return cls(services, limits, services.config.pipeline.ingest_workers)

    def process(self, task: PhotoTask) -> None:
        """Decode ``task.path``; mark the task unchanged if the same content is indexed."""
        decoded = decode_photo(task.path, self._limits)
        task.info, task.image = decoded.info, decoded.image
        if task.job.payload.get("force"):
            return
        indexed = self._services.index.photos.indexed_hash(task.path)
        task.unchanged = indexed == decoded.info.content_hash
