"""Finding and replacing the EXIF block inside JPEG and WebP files, leaving every other byte.

piexif builds the EXIF block; these functions splice it in. (``piexif.insert`` is not used: it
drops or replaces the JFIF APP0 segment of a JPEG and rebuilds every WebP chunk header, and
photod promises that every segment other than EXIF stays byte-identical.)
"""

from __future__ import annotations

import io
import struct

from PIL import Image

EXIF_HEADER = b"Exif\x00\x00"
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # JPEG markers without a length field
_SOS = 0xDA
_VP8X_EXIF_FLAG = 0x08


def kind(data: bytes) -> str | None:
    """``"jpeg"``, ``"webp"`` or None for formats whose EXIF photod does not write in-file."""
    if data[:2] == b"\xff\xd8":
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment before the first scan; raises ValueError."""
    segments = []
    pos = 2
    while True:
        if pos >= len(data) or data[pos] != 0xFF:
            raise ValueError("corrupt JPEG: no marker where one was expected")
        while pos + 1 < len(data) and data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        marker = data[pos + 1]
        if marker == _SOS:
            return segments
        if marker in _STANDALONE:
            segments.append((marker, pos, pos + 2))
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise ValueError("corrupt JPEG: segment runs past the end of the file")
        segments.append((marker, pos, end))
        pos = end


def _jpeg_exif_segment(data: bytes) -> tuple[int, int] | None:
    for marker, start, end in _jpeg_segments(data):
        if marker == 0xE1 and data[start + 4 : start + 10] == EXIF_HEADER:
            return start, end
    return None


def _webp_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(fourcc, start, end incl. padding) of each RIFF chunk; raises ValueError."""
    (riff_size,) = struct.unpack("<I", data[4:8])
    limit = min(len(data), 8 + riff_size)
    chunks = []
    pos = 12
    while pos + 8 <= limit:
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        end = pos + 8 + size + (size & 1)
        if end > limit + (size & 1):
            raise ValueError("corrupt WebP: chunk runs past the end of the file")
        chunks.append((fourcc, pos, end))
        pos = end
    return chunks


def get_exif(data: bytes) -> bytes | None:
    """The TIFF-structured EXIF payload (without the ``Exif\\0\\0`` header), or None."""
    fmt = kind(data)
    if fmt == "jpeg":
        found = _jpeg_exif_segment(data)
        return data[found[0] + 10 : found[1]] if found else None
    if fmt == "webp":
        for fourcc, start, _end in _webp_chunks(data):
            if fourcc == b"EXIF":
                (size,) = struct.unpack("<I", data[start + 4 : start + 8])
                payload = data[start + 8 : start + 8 + size]
                # Some writers put the JPEG-style header in the chunk too.
                return payload[6:] if payload.startswith(EXIF_HEADER) else payload
        return None
    raise ValueError("EXIF can be written into JPEG and WebP files only")


def put_exif(data: bytes, tiff: bytes | None) -> bytes:
    """``data`` with its EXIF replaced by ``tiff`` (None removes it); nothing else changes."""
    fmt = kind(data)
    if fmt == "jpeg":
        return _put_jpeg(data, tiff)
    if fmt == "webp":
        return _put_webp(data, tiff)
    raise ValueError("EXIF can be written into JPEG and WebP files only")


def _put_jpeg(data: bytes, tiff: bytes | None) -> bytes:
    segment = b""
    if tiff is not None:
        length = len(EXIF_HEADER) + len(tiff) + 2
        if length > 0xFFFF:
            raise ValueError("EXIF block too large for one JPEG APP1 segment")
        segment = b"\xff\xe1" + struct.pack(">H", length) + EXIF_HEADER + tiff
    found = _jpeg_exif_segment(data)
    if found:
        return data[: found[0]] + segment + data[found[1] :]
    if not segment:
        return data
    # JFIF wants its APP0 first; EXIF goes right after it (readers accept either order).
    pos = 2
    for marker, _start, end in _jpeg_segments(data):
        if marker != 0xE0:
            break
        pos = end
    return data[:pos] + segment + data[pos:]


def _vp8x_for_simple(data: bytes) -> bytes:
    """A VP8X chunk for a simple-format WebP (needed before it may carry EXIF)."""
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        alpha = img.mode in ("RGBA", "LA") or "transparency" in img.info
    flags = (0x10 if alpha else 0) | _VP8X_EXIF_FLAG  # made only to carry EXIF
    body = bytes([flags, 0, 0, 0])
    body += struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
    return b"VP8X" + struct.pack("<I", len(body)) + body


def _put_webp(data: bytes, tiff: bytes | None) -> bytes:
    chunks = _webp_chunks(data)
    new_chunk = b""
    if tiff is not None:
        new_chunk = b"EXIF" + struct.pack("<I", len(tiff)) + tiff + b"\x00" * (len(tiff) & 1)
    parts: list[bytes] = []
    if chunks and chunks[0][0] != b"VP8X":
        if not new_chunk:
            return data
        parts.append(_vp8x_for_simple(data))
    placed = False
    for fourcc, start, end in chunks:
        raw = data[start:end]
        if fourcc == b"VP8X":
            flags = raw[8] | _VP8X_EXIF_FLAG if new_chunk else raw[8] & ~_VP8X_EXIF_FLAG
            raw = raw[:8] + bytes([flags]) + raw[9:]
        elif fourcc == b"EXIF":
            raw, placed = new_chunk, True
        elif fourcc == b"XMP " and not placed:
            # The container spec orders EXIF before XMP.
            parts.append(new_chunk)
            placed = True
        parts.append(raw)
    if not placed:
        parts.append(new_chunk)
    body = b"WEBP" + b"".join(parts)
    return b"RIFF" + struct.pack("<I", len(body)) + body
