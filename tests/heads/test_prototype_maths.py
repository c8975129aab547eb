"""The patch head's arithmetic on hand-made token grids: coverage scores, the upsampled box,
and the threshold between a typical library photo and the examples."""

from __future__ import annotations

import numpy as np

from photod.heads.patches import box, calibrate, photo_scores, upsample


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_coverage_needs_every_prototype():
    body, tip, other = _unit([1, 0, 0]), _unit([0, 1, 0]), _unit([0, 0, 1])
    protos = np.stack([body, tip])
    whole = np.stack([body, tip, other])[None]  # a photo holding both parts
    half = np.stack([body, other, other])[None]  # a look-alike: the body only
    assert photo_scores(protos, whole)[0] == 1.0
    assert photo_scores(protos, half)[0] == 0.5


def test_upsample_keeps_patch_centres_and_box_ends_inside_patches():
    grid = np.zeros((4, 4), np.float32)
    grid[1, 2] = 1.0
    fine = upsample(grid, 8)
    assert fine.shape == (32, 32)
    # The values between the centres of patches (1, 2) and (1, 3) fall off linearly.
    assert fine[12, 20] > fine[12, 24] > fine[12, 28]
    x, y, w, h = box(grid.ravel(), (4, 4), 0.5)
    # Around patch (row 1, col 2) = x in [0.5, 0.75], y in [0.25, 0.5], half a patch each way.
    assert 0.5 - 0.125 <= x < 0.5 + 0.125 and 0.25 - 0.125 <= y < 0.25 + 0.125
    assert 0 < w <= 0.25 and 0 < h <= 0.25
    assert box(grid.ravel(), (4, 4), 2.0) is None


def test_box_keeps_the_region_of_the_best_match_only():
    grid = np.zeros((8, 8), np.float32)
    grid[1, 1] = 1.0
    grid[6, 6] = 0.9  # a second, weaker match far away
    x, y, w, h = box(grid.ravel(), (8, 8), 0.5)
    assert x + w < 0.5 and y + h < 0.5


def test_threshold_lies_between_the_library_and_the_examples():
    rng = np.random.default_rng(0)
    concept = _unit(rng.normal(size=(4, 16)))
    examples = [np.concatenate([concept, _unit(rng.normal(size=(4, 16)))]) for _ in range(3)]
    library = _unit(rng.normal(size=(40, 8, 16)))
    low = calibrate(examples, [], library, 4, 0.0)
    mid = calibrate(examples, [], library, 4, 0.5)
    high = calibrate(examples, [], library, 4, 1.0)
    assert low < mid < high
    assert np.isclose(mid, (low + high) / 2)
    # The library prior: at most a tenth of the sample may reach the threshold.
    capped = calibrate(examples, [], library, 4, 0.0, max_library_share=0.1)
    protos = np.concatenate([e[:4] for e in examples])  # what select keeps: the shared part
    assert capped >= low and (photo_scores(protos, library) >= capped).mean() <= 0.1 + 1e-9
