"""Writing photod's results into photo metadata that other photo apps read.

EXIF inside JPEG and WebP files (:mod:`.exif`), an XMP sidecar for every format (:mod:`.xmp`),
both written atomically (:mod:`.atomic`) and merged with what the user or other tools wrote.
:class:`~photod.metadata.writer.MetadataWriter` is the entry point; the pipeline uses it through
:class:`~photod.metadata.stage.MetadataStage`. Nothing here touches the index except the stage
and the CLI.
"""
