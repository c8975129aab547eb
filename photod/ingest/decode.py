"""Decode a photo once: read, hash, decode at reduced size, orient, normalise the mode.

Every problem with the input becomes a :class:`PhotoError` with a reason a person can act on;
nothing here may take the daemon down.

Orientation: some PIL plugins apply the EXIF orientation themselves while loading (TIFF since
Pillow 11, HEIF through pillow-heif) and then drop the tag; JPEG, PNG and WebP leave it to the
caller. So the orientation still to apply is read *after* loading, and the file's own
orientation (recorded for metadata writers, which address the image as stored) before it.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from photod.config import IngestConfig
from photod.errors import PhotoError
from photod.fsutil import stat_version
from photod.ingest import exif_facts
from photod.ingest.colour import to_rgb
from photod.ingest.reading import fail, read_file
from photod.pipeline.task import PhotoInfo

EXIF_ORIENTATION = 0x0112
EXIF_IFD = 0x8769
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_OFFSET_TIME_ORIGINAL = 0x9011
TIFF_DATETIME = 0x0132

# Orientations 5-8 swap width and height.
_SWAPS_AXES = {5, 6, 7, 8}
# How to turn the stored pixels upright for each EXIF orientation.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


# A JPEG whose DCT-scaled size (1/2, 1/4, 1/8) lands within this fraction of the working size
# is decoded straight to it: resampling a 2000 px decode down to 1024 px costs about as much as
# the decode itself, while 1/4 scale decodes as fast as 1/2 and gives 1000 px directly.
_DCT_SLACK = 0.9


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds that protect the daemon from hostile or broken files.

    PIL refuses images over ``2 * Image.MAX_IMAGE_PIXELS`` (about 179 MP) on its own, before
    ``max_pixels`` is consulted; the stricter of the two wins.
    """

    working_size: int = 1024
    max_pixels: int = 250_000_000
    max_bytes: int = 1024 * 1024 * 1024

    @classmethod
    def from_config(cls, cfg: IngestConfig) -> DecodeLimits:
        """The configured limits: the one source for every decode (library and examples)."""
        return cls(
            working_size=cfg.working_size,
            max_pixels=cfg.max_pixels,
            max_bytes=int(cfg.max_file_mb * 2**20),
        )


@dataclass
class Decoded:
    """The result of :func:`decode_photo`: facts about the file and the working image."""

    info: PhotoInfo
    image: Image.Image  # RGB, oriented, longest side <= working_size
    #: What the decoder produced before photod resized and turned it (JPEG DCT scaling makes it
    #: smaller than the file's pixel size).
    decoded_size: tuple[int, int] = (0, 0)


def content_hash(data: bytes) -> str:
    """The content identity of a file: BLAKE2b-128 of its bytes, hex."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _exif(img: Image.Image) -> Image.Exif:
    try:
        return img.getexif()
    except Exception:  # a broken EXIF block must not lose the picture
        return Image.Exif()


def _orientation(value: object) -> int:
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _taken_at(exif: Image.Exif) -> str | None:
    try:
        sub = exif.get_ifd(EXIF_IFD)
    except Exception:
        sub = {}
    raw = sub.get(EXIF_DATETIME_ORIGINAL) or exif.get(TIFF_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(EXIF_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str):
        try:  # "+02:00": keep the camera's time zone when it recorded one
            return datetime.fromisoformat(when.isoformat() + offset.strip("\x00 ")).isoformat()
        except ValueError:
            pass
    return when.isoformat()


def _open(data: bytes, limits: DecodeLimits) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise fail(f"image too large to decode safely (decompression bomb?): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise fail("not a recognised image format (wrong extension or corrupt file)") from exc
    except Exception as exc:  # plugins raise all sorts on malformed headers
        raise fail(f"corrupt image header: {type(exc).__name__}: {exc}") from exc
    width, height = img.size
    if width * height > limits.max_pixels:
        raise fail(
            f"image too large to decode safely ({width}x{height} = "
            f"{width * height / 1e6:.0f} MP > {limits.max_pixels / 1e6:.0f} MP limit)"
        )
    if width <= 0 or height <= 0:
        raise fail(f"image has no pixels ({width}x{height})")
    return img


def draft_request(size: tuple[int, int], working_size: int) -> tuple[int, int]:
    """The size to ask ``Image.draft`` for: PIL picks the largest DCT scale that still covers it.

    If one of the scales 1/8, 1/4, 1/2 gives a longest side just under ``working_size`` (within
    ``_DCT_SLACK``), ask for exactly that scale so no resampling is needed afterwards;
    otherwise ask for the working size (decode larger, then resample down).
    """
    longest = max(size)
    for scale in (8, 4, 2):
        if _DCT_SLACK * working_size <= math.ceil(longest / scale) <= working_size:
            return max(size[0] // scale, 1), max(size[1] // scale, 1)
    return working_size, working_size


def _load(img: Image.Image, limits: DecodeLimits) -> None:
    try:
        # JPEG (and MPO) decode at 1/2, 1/4 or 1/8 size here (DCT scaling): the main speed-up
        # for big photos. Other formats ignore the request.
        img.draft("RGB", draft_request(img.size, limits.working_size))
        img.load()
    except PhotoError:
        raise
    except Image.DecompressionBombError as exc:
        raise fail(f"image too large to decode safely: {exc}") from exc
    except MemoryError as exc:
        raise fail("not enough memory to decode this image") from exc
    except Exception as exc:  # truncated data, bad checksums, broken codec streams
        raise fail(f"truncated or corrupt image data: {exc}") from exc


def decode_bytes(
    data: bytes, limits: DecodeLimits
) -> tuple[PhotoInfo, Image.Image, tuple[int, int]]:
    """Decode ``data`` into the working image.

    Returns (facts without the file fields, working RGB image, decoded size as stored).
    """
    img = _open(data, limits)
    size = img.size
    fmt = img.format or ""
    exif = _exif(img)
    file_orientation = _orientation(
        img.info.get("original_orientation") or exif.get(EXIF_ORIENTATION)
    )
    taken_at = _taken_at(exif)
    position = exif_facts.gps(exif)
    _load(img, limits)
    decoded_size = img.size
    pending = _orientation(_exif(img).get(EXIF_ORIENTATION))  # what no plugin applied yet
    image = to_rgb(img)
    # Resize before transposing: the bound is square, so the order does not change the result,
    # and turning the small image is cheaper.
    image.thumbnail(
        (limits.working_size, limits.working_size), Image.Resampling.BILINEAR, reducing_gap=2.0
    )
    if pending != 1:
        image = image.transpose(_TRANSPOSE[pending])
    width, height = (size[1], size[0]) if pending in _SWAPS_AXES else size
    info = PhotoInfo(
        content_hash="",
        size=len(data),
        mtime_ns=0,
        width=width,
        height=height,
        orientation=file_orientation,
        format=fmt,
        taken_at=taken_at,
        camera=exif_facts.camera(exif),
        lens=exif_facts.lens(exif),
        latitude=position[0] if position else None,
        longitude=position[1] if position else None,
    )
    return info, image, decoded_size


def decode_photo(path: Path | str | os.PathLike[str], limits: DecodeLimits) -> Decoded:
    """Read, hash and decode the photo at ``path``; raise :class:`PhotoError` on bad input."""
    data, st = read_file(path, limits.max_bytes)
    try:
        info, image, decoded_size = decode_bytes(data, limits)
    except PhotoError as exc:
        exc.version = exc.version or stat_version(st)  # the version that was read
        raise
    info.content_hash = content_hash(data)
    info.size, info.mtime_ns = st.st_size, st.st_mtime_ns
    return Decoded(info=info, image=image, decoded_size=decoded_size)
