"""The embedding trainer's augmented views: seeded, the image itself first, each part off-able."""

from __future__ import annotations

import numpy as np
from PIL import Image

from photod.vlm.augment import augmented_views


def _noise(size: int = 40) -> Image.Image:
    rng = np.random.default_rng(0)
    # Mid-range values: a brightness factor up to 1.6 never clips them.
    return Image.fromarray(rng.integers(40, 150, (size, size, 3), dtype=np.uint8))


def test_views_are_seeded_and_start_with_the_image():
    image = _noise()
    a = augmented_views(image, 4, seed=3)
    b = augmented_views(image, 4, seed=3)
    assert np.array_equal(np.asarray(a[0]), np.asarray(image))
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(np.asarray(a[1]), np.asarray(augmented_views(image, 4, seed=4)[1]))


def test_everything_off_gives_the_image_itself():
    image = _noise()
    plain = augmented_views(image, 5, seed=1, flip_p=0.0, brightness=0.0, rotation=0.0)
    assert all(np.array_equal(np.asarray(v), np.asarray(image)) for v in plain)


def test_brightness_alone_keeps_the_layout():
    image = _noise()
    views = augmented_views(image, 6, seed=2, flip_p=0.0, brightness=0.6, rotation=0.0)
    ref = np.asarray(image, dtype=float)
    changed = 0
    for view in views[1:]:
        arr = np.asarray(view, dtype=float)
        changed += not np.array_equal(arr, ref)
        # A brightness jitter scales every pixel alike: the image's pattern is unchanged.
        assert np.corrcoef(arr.ravel(), ref.ravel())[0, 1] > 0.99
    assert changed == len(views) - 1
