"""Instance matching on patch features: the concept is the region that recurs in its examples.

A photo is a grid of L2-normalised patch tokens (``[patches, dim]``). Training keeps, from
each example, the patches that recur in every other example (the concept is what the 4 photos
share) and that the library does not make common (a plain background recurs too, but in most
photos). A photo's score is the best similarity of any of its patches to a prototype; where
it fires is the box around the patches that match.
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
    """``[photos]``: the best similarity of any patch to any prototype."""
    if len(photos) == 0:
        return np.zeros(0, np.float32)
    return best_match(prototypes, photos).max(axis=1)


def patch_scores(prototypes: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """``[patches]``: each patch's best similarity to a prototype."""
    return (photo @ prototypes.T).max(axis=1)


def box(scores: np.ndarray, grid: tuple[int, int], level: float) -> tuple[float, ...] | None:
    """Normalised (x, y, w, h) around the patches scoring at least ``level`` (None: none do).

    Only the connected group holding the best patch counts: a second, weaker match elsewhere
    in the photo does not stretch the box over the space between them.
    """
    rows, cols = grid
    on = (scores >= level).reshape(rows, cols)
    if not on.any():
        return None
    start = np.unravel_index(int(np.argmax(scores)), (rows, cols))
    seen = np.zeros_like(on)
    stack = [start]
    seen[start] = True
    while stack:
        r, c = stack.pop()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and on[nr, nc] and not seen[nr, nc]:
                seen[nr, nc] = True
                stack.append((nr, nc))
    ys, xs = np.nonzero(seen)
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
    margin: float,
    max_library_share: float = 1.0,
) -> float:
    """The score at which the concept is present.

    Each training example is scored by the prototypes of the others (leave one out) and each
    held-out example by all of them: the lowest of these positive scores, less ``margin``,
    is the threshold. The library's closest photos cannot lower or raise it one by one: in a
    user's library they are mostly the concept's own unlabelled photos. Only a prior bounds
    it: the concept is in at most ``max_library_share`` of a random library sample, so the
    threshold is raised until no more of the sample than that reaches it.
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
    threshold = (min(scores) if scores else 1.0) - margin
    if len(library) and max_library_share < 1.0:
        cap = float(np.quantile(photo_scores(protos, library), 1.0 - max_library_share))
        threshold = max(threshold, cap)
    return threshold
