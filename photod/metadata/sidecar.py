"""Where a photo's XMP sidecar is, and reading it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from photod.errors import PhotoError
from photod.metadata import atomic
from photod.metadata.rdf import Packet


def sidecar_path(photo: Path) -> Path:
    """``photo.jpg.xmp`` (digiKam, darktable) unless only ``photo.xmp`` (Lightroom) exists.

    An existing ``photo.xmp`` is the user's chosen sidecar and is updated in place rather than
    shadowed by a second one. Case variants (``.XMP``) count as existing.
    """
    long_form = photo.with_name(photo.name + ".xmp")
    short_form = photo.with_suffix(".xmp")
    for candidate in (long_form, short_form):
        for variant in (candidate, candidate.with_suffix(".XMP")):
            if variant.exists():
                return variant
    return long_form


def read_sidecar(path: Path) -> tuple[Packet, atomic.Snapshot, bool]:
    """(packet, snapshot, existed) for the sidecar at ``path``; a new packet if none.

    A sidecar that is not valid XMP is a :class:`PhotoError`: photod never replaces a file it
    cannot understand.
    """
    data, snapshot = atomic.read(path)
    if data is None:
        return Packet.new(), snapshot, False
    try:
        return Packet.parse(data), snapshot, True
    except ET.ParseError as exc:
        raise PhotoError(f"sidecar {path.name} is not valid XMP ({exc})", stage="metadata") from exc
