"""Decode a photo once: read, hash, decode at reduced size, orient, normalise the mode.

Every problem with the input becomes a :class:`PhotoError` with a reason a person can act on;
nothing here may take the daemon down.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from photod.errors import PhotoError
from photod.pipeline.task import PhotoInfo

EXIF_ORIENTATION = 0x0112
EXIF_IFD = 0x8769
EXIF_DATETIME_ORIGINAL = 0x9003
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


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds that protect the daemon from hostile or broken files."""

    working_size: int = 1024
    max_pixels: int = 250_000_000
    max_bytes: int = 1024 * 1024 * 1024


@dataclass
class Decoded:
    """The result of :func:`decode_photo`: facts about the file and the working image."""

    info: PhotoInfo
    image: Image.Image  # RGB, oriented, longest side <= working_size


def content_hash(data: bytes) -> str:
    """The content identity of a file: BLAKE2b-128 of its bytes, hex."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _fail(reason: str) -> PhotoError:
    return PhotoError(reason, stage="ingest")


def read_file(path: Path, limits: DecodeLimits) -> tuple[bytes, os.stat_result]:
    """Read the whole file once (hash and decoder share the bytes)."""
    try:
        st = os.stat(path)  # follows symlinks; ELOOP for loops
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _fail("symbolic link loop") from exc
        if exc.errno == errno.ENOENT:
            raise _fail("file disappeared before it could be read") from exc
        raise _fail(f"cannot stat file: {exc.strerror}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise _fail("not a regular file")
    if st.st_size == 0:
        raise _fail("empty file (0 bytes)")
    if st.st_size > limits.max_bytes:
        raise _fail(f"file too large ({st.st_size / 2**20:.0f} MiB)")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except PermissionError as exc:
        raise _fail("permission denied: photod cannot read this file") from exc
    except OSError as exc:
        raise _fail(f"cannot read file: {exc.strerror}") from exc
    return data, st


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # High bit depth greyscale: scale to 8 bits instead of clipping (PIL's convert clips).
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") else max(float(arr.max()), 1.0)
        arr = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) * (255.0 / (hi - lo or 1.0))
        return Image.fromarray(arr.astype(np.uint8), mode="L").convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def _taken_at(exif: Image.Exif) -> str | None:
    raw = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL) or exif.get(TIFF_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def decode_bytes(
    data: bytes, limits: DecodeLimits
) -> tuple[Image.Image, str, int, str | None, tuple[int, int]]:
    """Decode ``data`` into the working image.

    Returns (working RGB image, format, EXIF orientation, taken-at, oriented full size).
    """
    with warnings.catch_warnings():
        # We enforce our own pixel limit below; PIL's warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise _fail(f"image too large to decode safely (decompression bomb?): {exc}") from exc
        except UnidentifiedImageError as exc:
            raise _fail("not a recognised image format (wrong extension or corrupt file)") from exc
        width, height = img.size
        if width * height > limits.max_pixels:
            raise _fail(
                f"image too large to decode safely ({width}x{height} = "
                f"{width * height / 1e6:.0f} MP > {limits.max_pixels / 1e6:.0f} MP limit)"
            )
        fmt = img.format or ""
        try:
            exif = img.getexif()
        except Exception:  # a broken EXIF block must not lose the picture
            exif = Image.Exif()
        orientation = exif.get(EXIF_ORIENTATION, 1)
        if not isinstance(orientation, int) or not 1 <= orientation <= 8:
            orientation = 1
        taken_at = _taken_at(exif)
        try:
            if fmt == "JPEG":
                # DCT scaling: decode at 1/2, 1/4 or 1/8 size, the main speed-up for big JPEGs.
                img.draft("RGB", (limits.working_size, limits.working_size))
            img.load()
        except Image.DecompressionBombError as exc:
            raise _fail(f"image too large to decode safely: {exc}") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _fail(f"truncated or corrupt image data: {exc}") from exc
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    img = _to_rgb(img)
    if orientation != 1:
        img = img.transpose(_TRANSPOSE[orientation])
    img.thumbnail(
        (limits.working_size, limits.working_size), Image.Resampling.BILINEAR, reducing_gap=2.0
    )
    full = (height, width) if orientation in _SWAPS_AXES else (width, height)
    return img, fmt, orientation, taken_at, full


def decode_photo(path: Path, limits: DecodeLimits) -> Decoded:
    """Read, hash and decode the photo at ``path``; raise :class:`PhotoError` on bad input."""
    data, st = read_file(path, limits)
    image, fmt, orientation, taken_at, (width, height) = decode_bytes(data, limits)
    info = PhotoInfo(
        content_hash=content_hash(data),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        width=width,
        height=height,
        orientation=orientation,
        format=fmt,
        taken_at=taken_at,
    )
    return Decoded(info=info, image=image)
