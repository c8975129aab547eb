"""Writing one photo's metadata: EXIF in the file and the XMP sidecar, merged and atomic."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from photod.config import MetadataConfig
from photod.errors import PhotoError
from photod.ingest.decode import content_hash
from photod.metadata import atomic, containers, exif, xmp
from photod.metadata.model import Fields, PhotoMetadata
from photod.metadata.rdf import Packet
from photod.metadata.sidecar import read_sidecar, sidecar_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriterOptions:
    """The writer's slice of :class:`MetadataConfig`."""

    exif: bool = True
    sidecar: bool = True
    fields: Fields = field(default_factory=Fields)
    overwrite_description: bool = False
    keep_mtime: bool = False

    @classmethod
    def from_config(cls, config: MetadataConfig) -> WriterOptions:
        """Options from the ``metadata`` config section."""
        return cls(config.exif, config.sidecar, Fields.from_names(config.fields),
                   config.overwrite_description, config.keep_mtime)  # fmt: skip


@dataclass
class WriteResult:
    """What a write or clear did."""

    photo: atomic.Snapshot | None = None  # the photo's new state, if photod rewrote it
    before: tuple[int, int] | None = None  # its (size, mtime_ns) when photod read it
    content_hash: str | None = None  # the rewritten photo's hash (ingest's definition)
    sidecar: Path | None = None  # the sidecar written (or deleted on clear)
    notes: list[str] = field(default_factory=list)  # why something was skipped

    @property
    def photo_changed(self) -> bool:
        """The photo file itself was rewritten (its size and mtime changed)."""
        return self.photo is not None


class MetadataWriter:
    """Writes :class:`PhotoMetadata` into photos; every failure is a ``PhotoError``."""

    def __init__(
        self, options: WriterOptions, *, before_rename: Callable[[Path], None] | None = None
    ) -> None:
        self.options = options
        self._before_rename = before_rename  # test hook: pause or die mid-write

    def write(
        self, path: Path, meta: PhotoMetadata, expect: tuple[int, int] | None = None
    ) -> WriteResult:
        """Merge ``meta`` into ``path``'s metadata.

        ``expect`` is the (size, mtime_ns) the photo had when it was analysed: if the file has
        changed since, the results may no longer fit it and nothing is written.
        """
        return self._run(path, meta, expect)

    def clear(self, path: Path) -> WriteResult:
        """Remove everything photod wrote into ``path``'s metadata."""
        return self._run(path, None, None)

    def _run(
        self, path: Path, meta: PhotoMetadata | None, expect: tuple[int, int] | None
    ) -> WriteResult:
        try:
            return self._merge(path, meta, expect)
        except atomic.ReadOnly as exc:
            raise PhotoError(f"not written: {exc}", stage="metadata") from exc
        except atomic.FileChanged as exc:
            raise PhotoError(f"not written: {exc}; it will be processed again",
                             stage="metadata") from exc  # fmt: skip
        except OSError as exc:
            raise PhotoError(f"metadata write failed: {exc}", stage="metadata") from exc

    def _merge(
        self, path: Path, meta: PhotoMetadata | None, expect: tuple[int, int] | None
    ) -> WriteResult:
        opts = self.options
        data, photo_snap = atomic.read(path)
        if data is None:
            raise PhotoError(f"{path} no longer exists", stage="metadata")
        if expect is not None and expect != (photo_snap.size, photo_snap.mtime_ns):
            raise atomic.FileChanged(f"{path.name} changed after it was analysed")
        result = WriteResult(before=(photo_snap.size, photo_snap.mtime_ns))  # type: ignore[arg-type]
        # With the sidecar turned off photod neither reads nor writes one, and so has no
        # record of its EXIF values: it then only fills empty EXIF fields (docs/metadata.md).
        use_sidecar = opts.sidecar or meta is None
        side_path = sidecar_path(path)
        packet, side_snap, existed = (
            read_sidecar(side_path)
            if use_sidecar
            else (Packet.new(), atomic.Snapshot.of(None), False)
        )
        new_photo = self._merge_exif(data, packet, meta, result)
        if meta is None:  # clear: the photo first, so the record outlives the values it names
            self._replace_photo(path, data, new_photo, photo_snap, result)
            if existed:
                self._clear_sidecar(side_path, packet, side_snap, result)
            return result
        if use_sidecar:  # write: the record of the new values first, then the values
            self._write_sidecar(side_path, packet, side_snap, existed, meta, result)
        self._replace_photo(path, data, new_photo, photo_snap, result)
        return result

    def _replace_photo(
        self, path: Path, old: bytes, new: bytes | None, snap: atomic.Snapshot, result: WriteResult
    ) -> None:
        if new is not None and new != old:
            result.content_hash = content_hash(new)
            result.photo = atomic.replace(path, new, snap, keep_mtime=self.options.keep_mtime,
                                          before_rename=self._before_rename)  # fmt: skip

    def _merge_exif(
        self, data: bytes, packet: Packet, meta: PhotoMetadata | None, result: WriteResult
    ) -> bytes | None:
        """The photo's new bytes (None: leave it); updates photod's EXIF record in ``packet``."""
        descriptions, keywords = xmp.exif_record(packet)
        writing = meta is not None and self.options.exif
        if containers.kind(data) is None or not (writing or descriptions or keywords):
            return None
        fields = self.options.fields
        try:
            merged = exif.update(
                containers.get_exif(data),
                caption=meta.caption if writing and fields.description else None,  # type: ignore[union-attr]
                keywords=meta.keywords if writing and fields.keywords else [],  # type: ignore[union-attr]
                recorded_descriptions=descriptions,
                recorded_keywords=keywords,
                overwrite_description=self.options.overwrite_description,
            )
            new_data = containers.put_exif(data, merged.tiff)
        except (exif.ExifUnsafe, ValueError) as exc:
            result.notes.append(f"EXIF left alone: {exc}")
            log.info("EXIF left alone: %s", exc)
            return None
        xmp.set_exif_record(packet, merged.descriptions, merged.keywords)
        return new_data

    def _write_sidecar(
        self,
        path: Path,
        packet: Packet,
        snapshot: atomic.Snapshot,
        existed: bool,
        meta: PhotoMetadata,
        result: WriteResult,
    ) -> None:
        created = not existed or xmp.get_text(packet, "photod:CreatedSidecar") == "True"
        xmp.apply(packet, meta, self.options.fields, self.options.overwrite_description)
        if xmp.only_record(packet):
            if existed and created:  # every field turned off: photod's own sidecar goes
                atomic.remove(path, snapshot)
                result.sidecar = path
            elif existed:
                self._save(path, packet, snapshot, result)
            return
        xmp.set_text(packet, "photod:CreatedSidecar", "True" if created else None)
        self._save(path, packet, snapshot, result)

    def _clear_sidecar(
        self, path: Path, packet: Packet, snapshot: atomic.Snapshot, result: WriteResult
    ) -> None:
        created = xmp.get_text(packet, "photod:CreatedSidecar") == "True"
        xmp.clear(packet)
        if created and packet.is_empty():
            atomic.remove(path, snapshot)
            result.sidecar = path
        else:
            self._save(path, packet, snapshot, result)

    def _save(
        self, path: Path, packet: Packet, snapshot: atomic.Snapshot, result: WriteResult
    ) -> None:
        new = packet.serialize()
        old, _ = atomic.read(path)
        if new != old:
            atomic.replace(path, new, snapshot, default_mode=0o644)
            result.sidecar = path
