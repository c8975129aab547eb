"""Augmented views of a positive example (MyVLM's reference: flip and rotation up to 30
degrees; photod adds a random resized crop and brightness, which the few-shot head needs)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance, ImageOps


def augment(image: Image.Image, n: int, rng: np.random.Generator) -> list[Image.Image]:
    """``n`` random views of ``image`` (deterministic for a given ``rng`` state)."""
    views = []
    w, h = image.size
    for _ in range(n):
        view = image
        if rng.random() < 0.5:
            view = ImageOps.mirror(view)
        view = view.rotate(float(rng.uniform(-30, 30)), resample=Image.BILINEAR, expand=False)
        scale = float(rng.uniform(0.7, 1.0))
        cw, ch = max(1, int(w * scale)), max(1, int(h * scale))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        view = view.crop((x, y, x + cw, y + ch))
        view = ImageEnhance.Brightness(view).enhance(float(rng.uniform(0.7, 1.3)))
        views.append(view)
    return views
