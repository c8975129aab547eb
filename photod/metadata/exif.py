"""EXIF fields photod writes into JPEG and WebP files, built with piexif.

* ``ImageDescription``: the caption folded to ASCII (the field is ASCII by definition);
* ``UserComment``: the exact caption with its charset prefix (ASCII or UNICODE);
* ``XPComment`` / ``XPKeywords``: the caption and the keywords in UCS-2 (Windows Explorer).

A field counts as photod's when it is empty or holds a value photod recorded writing (the
record lives in the sidecar, see :mod:`.xmp`); any other value is the user's and stays unless
``overwrite_description`` is set. Keywords are merged: the user's stay, photod's are replaced.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field

import piexif
import piexif.helper

from photod.metadata import tiffscan

log = logging.getLogger(__name__)

DESCRIPTION = piexif.ImageIFD.ImageDescription
XP_COMMENT = piexif.ImageIFD.XPComment
XP_KEYWORDS = piexif.ImageIFD.XPKeywords
USER_COMMENT = piexif.ExifIFD.UserComment
_IFDS = ("0th", "Exif", "GPS", "Interop", "1st")
# Offsets to sub-IFDs: piexif recomputes them; alone they carry no metadata.
_POINTERS = {piexif.ImageIFD.ExifTag, piexif.ImageIFD.GPSTag, piexif.ExifIFD.InteroperabilityTag}


class ExifUnsafe(Exception):
    """Rewriting this file's EXIF with piexif could lose some of it."""


@dataclass
class ExifResult:
    """The new EXIF block (None: remove it) and what photod now owns in it."""

    tiff: bytes | None
    descriptions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)


def ascii_fold(text: str) -> str:
    """``"Zoë and José"`` -> ``"Zoe and Jose"``; characters with no ASCII form are dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii").strip()


def _ucs2(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\x00\x00"


def _from_ucs2(value: object) -> str:
    return bytes(value).decode("utf-16-le", "replace").rstrip("\x00")  # type: ignore[arg-type]


def _user_comment(value: object) -> str | None:
    try:
        return piexif.helper.UserComment.load(bytes(value)).rstrip("\x00")  # type: ignore[arg-type]
    except ValueError:
        return None


def load(tiff: bytes | None) -> dict:
    """The EXIF as a piexif dict; raises :class:`ExifUnsafe` when piexif would drop tags."""
    if tiff is None:
        return {name: {} for name in _IFDS} | {"thumbnail": None}
    try:
        present = tiffscan.tag_ids(tiff)
        loaded = piexif.load(b"Exif\x00\x00" + tiff)
    except Exception as exc:  # piexif raises many kinds on odd files
        raise ExifUnsafe(f"unreadable EXIF ({exc})") from exc
    if tiffscan.MAKER_NOTE in present.get("Exif", set()):
        raise ExifUnsafe("has a MakerNote (its offsets would break if the block moved)")
    for name, ids in present.items():
        lost = ids - set(loaded.get(name) or {})
        if lost:
            raise ExifUnsafe(f"has tags piexif does not know ({name}: {sorted(lost)[:5]})")
    return loaded


def _owned(value: object, decode, candidates: set[str]) -> bool:
    return value is None or decode(value) in candidates or decode(value) == ""


def update(
    tiff: bytes | None,
    *,
    caption: str | None,
    keywords: list[str],
    recorded_descriptions: list[str],
    recorded_keywords: list[str],
    overwrite_description: bool = False,
) -> ExifResult:
    """Merge photod's caption and keywords into the EXIF block ``tiff``.

    ``recorded_*`` is what photod wrote before; ``caption=None`` and ``keywords=[]`` remove
    photod's values (``metadata clear``). Raises :class:`ExifUnsafe`.
    """
    exif = load(tiff)
    zeroth, exif_ifd = exif["0th"], exif["Exif"]
    ours = set(recorded_descriptions)
    decoders = [
        (zeroth, DESCRIPTION, lambda v: bytes(v).decode("ascii", "replace").rstrip("\x00"),
         {ascii_fold(d) for d in ours}),
        (exif_ifd, USER_COMMENT, _user_comment, ours),
        (zeroth, XP_COMMENT, _from_ucs2, ours),
    ]  # fmt: skip
    still_there = [d for d in recorded_descriptions if _present(d, zeroth, exif_ifd)]
    for ifd, tag, decode, candidates in decoders:
        mine = _owned(ifd.get(tag), decode, candidates)
        if not mine and not overwrite_description:
            continue
        ifd.pop(tag, None)
        if caption:
            ifd[tag] = _encode(tag, caption)
    if zeroth.get(DESCRIPTION) == b"":
        del zeroth[DESCRIPTION]  # a caption with no ASCII form at all

    current = [k for k in _from_ucs2(zeroth.get(XP_KEYWORDS, b"")).split(";") if k.strip()]
    current = [k.strip() for k in current]
    kept = [k for k in current if k not in set(recorded_keywords)]
    added = [k for k in dict.fromkeys(keywords) if k not in kept]
    if kept or added:
        zeroth[XP_KEYWORDS] = _ucs2(";".join(kept + added))
    else:
        zeroth.pop(XP_KEYWORDS, None)
    # Values photod wrote before and that are still in the file stay on record until the
    # new block has replaced them, so a crash between sidecar and photo write loses nothing.
    result = ExifResult(
        tiff=None,
        descriptions=list(dict.fromkeys(([caption] if caption else []) + still_there)),
        keywords=list(dict.fromkeys(added + [k for k in recorded_keywords if k in current])),
    )
    if not any(set(exif[name]) - _POINTERS for name in _IFDS) and not exif.get("thumbnail"):
        return result  # nothing left (or nothing to add): no EXIF block at all
    try:
        result.tiff = piexif.dump(exif)[6:]
    except Exception as exc:  # piexif rejects values it cannot re-encode
        raise ExifUnsafe(f"piexif cannot re-encode it ({exc})") from exc
    return result


def _encode(tag: int, caption: str) -> bytes:
    if tag == DESCRIPTION:
        return ascii_fold(caption).encode("ascii")
    if tag == USER_COMMENT:
        charset = "ascii" if caption.isascii() else "unicode"
        return piexif.helper.UserComment.dump(caption, encoding=charset)
    return _ucs2(caption)


def _present(text: str, zeroth: dict, exif_ifd: dict) -> bool:
    return (
        _from_ucs2(zeroth.get(XP_COMMENT, b"")) == text
        or _user_comment(exif_ifd.get(USER_COMMENT, b"")) == text
    )
