"""Facts for search read from a photo's EXIF: camera, lens and GPS position.

Every reader returns None for a missing or malformed value: a broken tag never fails a photo.
"""

from __future__ import annotations

import math

from PIL import Image

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
MAKE, MODEL = 0x010F, 0x0110
LENS_MAKE, LENS_MODEL = 0xA433, 0xA434
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return " ".join(value.strip("\x00 ").split()) or None


def _ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # a broken sub-IFD must not lose the other facts
        return {}


def camera(exif: Image.Exif) -> str | None:
    """ "FUJIFILM X100V": make and model, without the make twice ("Canon Canon EOS R5")."""
    make, model = _text(exif.get(MAKE)), _text(exif.get(MODEL))
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(x for x in (make, model) if x) or None


def lens(exif: Image.Exif) -> str | None:
    """The lens model (with its make when the model does not name it)."""
    sub = _ifd(exif, EXIF_IFD)
    make, model = _text(sub.get(LENS_MAKE)), _text(sub.get(LENS_MODEL))
    if make and model and not model.lower().startswith(make.split()[0].lower()):
        return f"{make} {model}"
    return model or make


def _degrees(dms: object, ref: object) -> float | None:
    try:
        d, m, s = (float(x) for x in dms)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if not math.isfinite(value):
        return None
    ref = _text(ref) or ""
    return -value if ref.upper() in ("S", "W") else value


def gps(exif: Image.Exif) -> tuple[float, float] | None:
    """(latitude, longitude) in decimal degrees, or None (absent, malformed, out of range)."""
    sub = _ifd(exif, GPS_IFD)
    if GPS_LAT not in sub or GPS_LON not in sub:
        return None
    lat = _degrees(sub[GPS_LAT], sub.get(GPS_LAT_REF))
    lon = _degrees(sub[GPS_LON], sub.get(GPS_LON_REF))
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    if lat == 0 and lon == 0:  # what cameras write when they had no fix
        return None
    return lat, lon
