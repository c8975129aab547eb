"""Region geometry: from the oriented (displayed) image to the stored pixel frame.

MWG regions are defined on the image *as stored*, before the EXIF orientation is applied, with
``AppliedToDimensions`` the stored pixel size; digiKam, exiftool and Immich read them that way
and so does photod. Microsoft Photo regions are written in the same frame (as digiKam does),
only with a top-left corner instead of a centre.
"""

from __future__ import annotations

Box = tuple[float, float, float, float]

# For each orientation, where a displayed point (u, v) lies in the stored image (s, t), all
# normalised. Derived from how a viewer transforms stored pixels for display (PIL's
# ImageOps.exif_transpose does the same); tests check every orientation against it.
_DISPLAY_TO_STORED = {
    1: lambda u, v: (u, v),
    2: lambda u, v: (1 - u, v),
    3: lambda u, v: (1 - u, 1 - v),
    4: lambda u, v: (u, 1 - v),
    5: lambda u, v: (v, u),
    6: lambda u, v: (v, 1 - u),
    7: lambda u, v: (1 - v, 1 - u),
    8: lambda u, v: (1 - v, u),
}


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def stored_box(box: Box, orientation: int) -> Box:
    """The normalised top-left (x, y, w, h) in the stored frame of a displayed-frame ``box``."""
    mapping = _DISPLAY_TO_STORED.get(orientation, _DISPLAY_TO_STORED[1])
    x, y, w, h = box
    corners = [mapping(x, y), mapping(x + w, y + h)]
    xs = sorted(_clamp(c[0]) for c in corners)
    ys = sorted(_clamp(c[1]) for c in corners)
    return xs[0], ys[0], xs[1] - xs[0], ys[1] - ys[0]


def stored_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """The stored pixel size of an image displayed as ``width`` x ``height``."""
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def mwg_area(box: Box, orientation: int) -> Box:
    """The MWG ``stArea`` (centre x, centre y, w, h), normalised, in the stored frame."""
    x, y, w, h = stored_box(box, orientation)
    return x + w / 2, y + h / 2, w, h


def mp_rectangle(box: Box, orientation: int) -> Box:
    """The Microsoft Photo ``MPReg:Rectangle`` (left, top, w, h), normalised, stored frame."""
    return stored_box(box, orientation)


def fmt(value: float) -> str:
    """A coordinate as XMP text: six decimals, like digiKam and exiftool write them."""
    return f"{value:.6f}"
