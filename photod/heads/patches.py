"""Instance matching on patch features: the concept is the region that recurs in its examples.

A photo is a grid of L2-normalised patch tokens (``[patches, dim]``). Training keeps, from
each example, the patches that recur in every other example (the concept is what the 4 photos
share) and that the library does not make common (a plain background recurs too, but in most
photos). A photo's score is how well it holds every prototype (the mean of each one's best
match in it); where it fires is the box around the object under the best match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A library photo counts as "having" a patch when its best patch is this similar; the
#: commonness of a patch is the share of photos at this level, read at a high quantile so
#: that the concept's own unlabelled photos (a few percent of a library) do not count.
COMMON_QUANTILE = 0.9


@dataclass
class Prototypes:
    """The patch tokens that stand for a concept, and the score at which it is present."""

    tokens: np.ndarray  # [prototypes, dim]
    threshold: float


def best_match(queries: np.ndarray, photos: np.ndarray) -> np.ndarray:
    """``[photos, queries]``: each query patch's best similarity to any patch of each photo
    (``queries`` ``[q, dim]``, ``photos`` ``[m, patches, dim]``)."""
    if len(photos) == 0:
        return np.zeros((0, len(queries)), np.float32)
    sims = np.einsum("qd,mpd->mqp", queries, photos, optimize=True)
    return sims.max(axis=2)


def recurrence(examples: list[np.ndarray]) -> list[np.ndarray]:
    """Per example, per patch: the least, over the other examples, of its best match there."""
    out = []
    for i, ex in enumerate(examples):
        others = [e for j, e in enumerate(examples) if j != i]
        if not others:
            out.append(np.ones(len(ex), np.float32))
            continue
        out.append(best_match(ex, np.stack(others)).min(axis=0))
    return out


def commonness(tokens: np.ndarray, library: np.ndarray) -> np.ndarray:
    """Per patch: its best match in a typical library photo (the ``COMMON_QUANTILE`` one)."""
    if len(library) == 0:
        return np.zeros(len(tokens), np.float32)
    return np.quantile(best_match(tokens, library), COMMON_QUANTILE, axis=0)


def select(examples: list[np.ndarray], library: np.ndarray, per_example: int) -> np.ndarray:
    """Prototype tokens: per example, the ``per_example`` patches that recur most across the
    examples above how common they are in the library."""
    rec = recurrence(examples)
    keep = []
    for ex, r in zip(examples, rec, strict=True):
        distinct = r - commonness(ex, library)
        keep.append(ex[np.argsort(-distinct, kind="stable")[:per_example]])
    return np.concatenate(keep).astype(np.float32)


def photo_scores(prototypes: np.ndarray, photos: np.ndarray) -> np.ndarray:
    """``[photos]``: how fully each photo holds the prototypes, the mean over them of the
    best match each finds in the photo. Every part of the concept must be there: a
    look-alike shares some parts (the body, a decoration's colour) but not all of them."""
    if len(photos) == 0:
        return np.zeros(0, np.float32)
    return best_match(prototypes, photos).mean(axis=1)


#: The score map is read at this many points per patch side: a toy object spans 2-3 patches,
#: and a box cut on the patch grid misses it by up to a patch on each side.
UPSAMPLE = 8


def upsample(grid_scores: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upsampling of a ``[rows, cols]`` map, each value at its patch's centre (the
    border patches' values extend to the edge)."""

    def weights(n: int) -> np.ndarray:
        at = (np.arange(n * factor) + 0.5) / factor - 0.5  # output centres in patch units
        at = np.clip(at, 0, n - 1)
        lo = np.minimum(np.floor(at).astype(int), n - 2) if n > 1 else np.zeros_like(at, int)
        frac = at - lo
        w = np.zeros((n * factor, n), np.float32)
        w[np.arange(len(at)), lo] = 1 - frac
        if n > 1:
            w[np.arange(len(at)), lo + 1] += frac
        return w

    rows, cols = grid_scores.shape
    return weights(rows) @ grid_scores @ weights(cols).T


def _component(on: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """The 4-connected region of ``on`` holding ``start``."""
    seen = np.zeros_like(on)
    seen[start] = True
    stack = [start]
    rows, cols = on.shape
    while stack:
        r, c = stack.pop()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < rows and 0 <= nc < cols and on[nr, nc] and not seen[nr, nc]:
                seen[nr, nc] = True
                stack.append((nr, nc))
    return seen


def box(scores: np.ndarray, grid: tuple[int, int], level: float) -> tuple[float, ...] | None:
    """Normalised (x, y, w, h) around where the patch scores reach ``level`` (None: nowhere).

    The score map is upsampled bilinearly (``UPSAMPLE`` points per patch side), so the box can
    end inside a patch. Only the connected region holding the best point counts: a second,
    weaker match elsewhere in the photo does not stretch the box over the space between them.
    """
    fine = upsample(scores.reshape(grid).astype(np.float32), UPSAMPLE)
    on = fine >= level
    if not on.any():
        return None
    start = np.unravel_index(int(np.argmax(fine)), fine.shape)
    ys, xs = np.nonzero(_component(on, start))
    rows, cols = fine.shape
    return (
        float(xs.min() / cols),
        float(ys.min() / rows),
        float((xs.max() + 1 - xs.min()) / cols),
        float((ys.max() + 1 - ys.min()) / rows),
    )


def calibrate(
    examples: list[np.ndarray],
    held_out: list[np.ndarray],
    library: np.ndarray,
    per_example: int,
    level: float,
    max_library_share: float = 1.0,
) -> float:
    """The score at which the concept is present.

    Each training example is scored by the prototypes of the others (leave one out) and each
    held-out example by all of them; the threshold lies ``level`` of the way from a typical
    library photo's score (the ``COMMON_QUANTILE`` one: the concept's own unlabelled photos,
    a few percent of a library, sit above it) up to the lowest of these positive scores. A
    few examples underestimate how far a new photo of the concept can be from them, and a
    fixed margin under them would not follow the feature model's scale. The library's
    closest photos cannot set it one by one: in a user's library they are mostly the
    concept's own unlabelled photos. A prior bounds it from below: the concept is in at most
    ``max_library_share`` of a random library sample, so the threshold is raised until no
    more of the sample than that reaches it.
    """
    scores = []
    if len(examples) > 1:
        for i in range(len(examples)):
            rest = [e for j, e in enumerate(examples) if j != i]
            protos = select(rest, library, per_example)
            scores.append(float(photo_scores(protos, examples[i][None])[0]))
    protos = select(examples, library, per_example)
    if held_out:
        scores.extend(photo_scores(protos, np.stack(held_out)).tolist())
    positive = min(scores) if scores else 1.0
    if not len(library):
        return positive
    typical_scores = photo_scores(protos, library)
    typical = min(float(np.quantile(typical_scores, COMMON_QUANTILE)), positive)
    threshold = typical + level * (positive - typical)
    if max_library_share < 1.0:
        threshold = max(threshold, float(np.quantile(typical_scores, 1.0 - max_library_share)))
    return threshold
