"""Normalising any decoded PIL mode to 8-bit RGB without losing the picture.

PIL's own ``convert("RGB")`` clips high-bit-depth greyscale (a 16-bit photo comes out almost
white) and drops alpha onto black; both are handled here first.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from photod.ingest.reading import fail

_HIGH_DEPTH_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_WITH_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


def _grey_to_rgb(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(arr.astype(np.uint8), mode="L").convert("RGB")


def _scale_high_depth(img: Image.Image) -> Image.Image:
    arr = np.asarray(img).astype(np.float32)
    if img.mode.startswith("I;16"):
        peak = 65535.0
    else:
        # Mode "I" (32-bit) has no declared range: assume the smallest common bit depth that
        # holds the data, so an 8- or 16-bit image stored as "I" keeps its brightness.
        top = float(arr.max()) if arr.size else 0.0
        peak = 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
        arr = np.maximum(arr, 0)
    return _grey_to_rgb(np.clip(arr * (255.0 / peak) + 0.5, 0, 255))


def _float_to_rgb(img: Image.Image) -> Image.Image:
    arr = np.asarray(img).astype(np.float64)
    finite = arr[np.isfinite(arr)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if lo >= 0 and hi <= 1:  # already normalised (common for float TIFFs)
        lo, hi = 0.0, 1.0
    arr = np.nan_to_num((arr - lo) * (255.0 / ((hi - lo) or 1.0)))
    return _grey_to_rgb(np.clip(arr + 0.5, 0, 255))


def _flatten_alpha(img: Image.Image) -> Image.Image:
    # Transparent areas become white, as image viewers show them, not black (PIL's default).
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def to_rgb(img: Image.Image) -> Image.Image:
    """``img`` as 8-bit RGB: 16-bit scaled (not clipped), alpha over white, CMYK converted."""
    mode = img.mode
    if mode == "RGB":
        return img
    try:
        if mode in _HIGH_DEPTH_GREY:
            return _scale_high_depth(img)
        if mode == "F":
            return _float_to_rgb(img)
        if mode in _WITH_ALPHA or (mode in ("P", "L") and "transparency" in img.info):
            return _flatten_alpha(img)
        return img.convert("RGB")  # L, 1, P, CMYK (Adobe inversion handled by PIL), YCbCr, LAB
    except (ValueError, OSError) as exc:
        raise fail(f"unsupported colour mode {mode}: {exc}") from exc
