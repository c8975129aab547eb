"""MyVLM's training augmentation: flip (p=0.5), brightness jitter 0.6, rotation up to 45.

Each part can be turned down: a horizontal flip contradicts a target that says "left of"
(the toy world's captions all do), so the toy settings turn flips and rotation off.
"""

from __future__ import annotations

import torch
from PIL import Image
from torchvision.transforms import v2


def augmented_views(
    image: Image.Image,
    n: int,
    seed: int,
    *,
    flip_p: float = 0.5,
    brightness: float = 0.6,
    rotation: float = 45.0,
) -> list[Image.Image]:
    """``n`` views of ``image``: the image itself, then ``n - 1`` seeded random augmentations.

    The global torch RNG is left untouched (a forked RNG), so training stays reproducible
    whatever else runs in the process.
    """
    image = image.convert("RGB")
    views = [image]
    transform = v2.Compose(
        [
            v2.RandomHorizontalFlip(flip_p),
            v2.ColorJitter(brightness=brightness),
            v2.RandomRotation(rotation),
        ]
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        views += [transform(image) for _ in range(max(0, n - 1))]
    return views
