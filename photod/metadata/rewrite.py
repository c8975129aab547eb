"""Writing one indexed photo's metadata from what the index holds for it.

The daemon (after each commit) and ``photod metadata write`` both go through
:class:`IndexedRewriter`, so the same photo gets the same metadata from either.
"""

from __future__ import annotations

import logging
from pathlib import Path

from photod.config import MetadataConfig
from photod.index import Index
from photod.index.photos import record_own_write
from photod.index.results import stored_photo
from photod.metadata import source
from photod.metadata.writer import MetadataWriter, WriteResult

log = logging.getLogger(__name__)


class IndexedRewriter:
    """Writes an indexed photo's caption, keywords and regions, then records the new file.

    The new (size, mtime_ns, hash) goes into the photo's row, which is what the watcher and
    the start-up reconcile compare: photod's own write never comes back as a job.
    """

    def __init__(
        self,
        writer: MetadataWriter,
        config: MetadataConfig,
        index: Index,
    ) -> None:
        self._writer = writer
        self._config = config
        self._index = index

    def rewrite(self, photo_id: int) -> WriteResult | None:
        """Write the photo's metadata; None when it is not indexed (any more).

        Raises ``PhotoError(stage="metadata")`` when the file cannot be written or changed
        since the index read it.
        """
        photo = self._index.read(lambda db: stored_photo(db, photo_id))
        if photo is None:
            return None
        before = (photo.size, photo.mtime_ns)
        result = self._writer.write(
            Path(photo.path), source.build(photo, self._config), expect=before
        )
        if result.photo is not None:
            after = (result.photo.size, result.photo.mtime_ns)
            digest = result.content_hash
            self._index.write(lambda db: record_own_write(db, photo_id, before, after, digest))
        for note in result.notes:
            log.info("%s: %s", photo.path, note)
        return result
