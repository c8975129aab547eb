"""The ingest stage: decode once, hash, and notice photos whose content did not change."""

from __future__ import annotations

import warnings

from PIL import Image

from photod.index import Index
from photod.ingest.decode import DecodeLimits, decode_photo
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import PhotoTask


class IngestStage(BaseStage):
    """Read, hash and decode each photo into a bounded working image."""

    name = "ingest"
    runs_on_unchanged = True

    def __init__(self, index: Index, limits: DecodeLimits, workers: int) -> None:
        self._index = index
        self._limits = limits
        self.workers = workers  # decoding releases the GIL: threads scale on cores
        import pillow_heif

        # Registering the HEIF opener is a process-wide PIL setting; do it when the stage is
        # built rather than at import time.
        pillow_heif.register_heif_opener()
        # decode_photo enforces its own pixel limit and refuses real bombs; PIL's warning for
        # merely big photos would only add noise. A filter set once here, because
        # warnings.catch_warnings() around each decode is not thread-safe.
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

    def process(self, task: PhotoTask) -> None:
        """Decode ``task.path``; mark the task unchanged if the same content is indexed."""
        decoded = decode_photo(task.path, self._limits)
        task.info, task.image = decoded.info, decoded.image
        if task.job.payload.get("force"):
            return
        indexed = self._index.photos.indexed_hash(task.path)
        task.unchanged = indexed == decoded.info.content_hash
