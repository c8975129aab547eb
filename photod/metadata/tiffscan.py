"""Listing the tag ids of a TIFF/EXIF block, to know whether piexif would lose any.

piexif only keeps the tags it knows; rewriting a block that holds others (or a MakerNote, whose
internal offsets break when it moves) would damage the user's metadata, so photod leaves such a
file's EXIF alone and writes the sidecar only.
"""

from __future__ import annotations

import struct

_POINTERS = {34665: "Exif", 34853: "GPS", 40965: "Interop"}
MAKER_NOTE = 37500


def tag_ids(tiff: bytes) -> dict[str, set[int]]:
    """Tag ids per IFD (``0th``, ``Exif``, ``GPS``, ``Interop``, ``1st``); raises ValueError."""
    if tiff[:2] == b"II":
        order = "<"
    elif tiff[:2] == b"MM":
        order = ">"
    else:
        raise ValueError("not a TIFF header")
    (first,) = struct.unpack(order + "I", tiff[4:8])
    found: dict[str, set[int]] = {}
    todo = [("0th", first)]
    seen: set[int] = set()
    while todo:
        name, offset = todo.pop()
        if not offset or offset in seen or offset + 2 > len(tiff):
            continue
        seen.add(offset)
        (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
        ids = found.setdefault(name, set())
        for i in range(count):
            entry = offset + 2 + 12 * i
            if entry + 12 > len(tiff):
                raise ValueError("truncated IFD")
            tag, _type, _count, value = struct.unpack(order + "HHII", tiff[entry : entry + 12])
            ids.add(tag)
            if tag in _POINTERS:
                todo.append((_POINTERS[tag], value))
        if name == "0th":
            end = offset + 2 + 12 * count
            if end + 4 <= len(tiff):
                (next_ifd,) = struct.unpack(order + "I", tiff[end : end + 4])
                todo.append(("1st", next_ifd))
    return found
