"""Boxes from a grounding VLM's answer text, parsed defensively.

A grounding model answers "where is X" with coordinates as text: MiniGPT-v2 writes
``{<x0><y0><x1><y1>}`` on a 0-100 grid, other models ``[x0, y0, x1, y1]`` on their own grid
(or as fractions of the image). A generated answer can be anything, so a box is kept only when
the text holds exactly one well-formed, in-range, non-empty box; anything else is dropped with
the reason, which the caller logs. A wrong region in a photo's metadata is worse than none.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

_NUM = r"\s*(-?\d+(?:\.\d+)?)\s*"
_BRACED = re.compile(r"\{\s*<" + _NUM + r">" + (r"\s*<" + _NUM + r">") * 3 + r"\s*\}")
_BRACKETED = re.compile(r"\[" + _NUM + (r"," + _NUM) * 3 + r"\]")
# Anything that starts like a box, to tell a malformed box from an answer without one.
_OPENERS = re.compile(r"[{\[<]\s*-?\d")


@dataclass(frozen=True)
class BoxParse:
    """The outcome of parsing one answer: ``box`` (x, y, w, h in [0, 1]) or the reason why not."""

    box: tuple[float, float, float, float] | None
    reason: str | None = None


def _drop(reason: str) -> BoxParse:
    return BoxParse(None, reason)


def parse_box(text: str, grid: float = 100.0) -> BoxParse:
    """The single box in ``text`` as normalised (x, y, w, h), corners read on a 0..``grid``
    scale (``[...]`` corners with a decimal point are read as fractions of the image).

    Dropped, with a reason: no box, several boxes, a box with the wrong number of
    coordinates, a coordinate out of range or not finite, an empty or inverted box.
    """
    braced = [(m, grid) for m in _BRACED.finditer(text)]
    bracketed = []
    for m in _BRACKETED.finditer(text):
        # Decimals in brackets are fractions of the image (models on a grid write integers).
        fractions = any("." in v for v in m.groups())
        bracketed.append((m, 1.0 if fractions else grid))
    found = braced + bracketed
    if not found:
        if _OPENERS.search(text):
            return _drop(f"malformed box in {text!r}")
        return _drop(f"no box in {text!r}")
    if len(found) > 1:
        return _drop(f"{len(found)} boxes in {text!r}: ambiguous")
    match, scale = found[0]
    x0, y0, x1, y1 = (float(v) for v in match.groups())
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return _drop(f"coordinate not finite in {text!r}")
    if not all(0.0 <= v <= scale for v in (x0, y0, x1, y1)):
        return _drop(f"coordinate outside 0..{scale:g} in {text!r}")
    if x1 <= x0 or y1 <= y0:
        return _drop(f"empty or inverted box in {text!r}")
    return BoxParse((x0 / scale, y0 / scale, (x1 - x0) / scale, (y1 - y0) / scale))


def box_or_none(text: str, grid: float, what: str) -> tuple[float, float, float, float] | None:
    """:func:`parse_box`, logging why a box was dropped (``what`` names the concept/photo)."""
    parsed = parse_box(text, grid)
    if parsed.box is None:
        log.info("no box for %s: %s", what, parsed.reason)
    return parsed.box
