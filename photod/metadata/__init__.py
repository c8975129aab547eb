"""Writing photod's results into photo metadata that other photo apps read.

EXIF inside JPEG and WebP files (:mod:`.exif`), an XMP sidecar for every format (:mod:`.xmp`),
both written atomically (:mod:`.atomic`) and merged with what the user or other tools wrote.
:class:`~photod.metadata.writer.MetadataWriter` writes a :class:`~.model.PhotoMetadata`;
:class:`~photod.metadata.rewrite.IndexedRewriter` builds it from what the index holds for a
photo (:mod:`.source`) and is what both the daemon's listener on committed photos
(:class:`~photod.metadata.listener.MetadataListener`) and ``photod metadata write`` use.
Every query lives in :mod:`photod.index`.
"""
