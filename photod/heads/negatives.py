"""Negatives mined from the user's own library (users never supply them).

Hard negatives are the non-example photos most similar to the positives by CLIP cosine
similarity (what the head most needs to learn to reject: other mugs, other dogs); a random
sample of the rest keeps the decision calibrated on ordinary photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Negatives:
    """Mined negative embeddings and where they came from."""

    embeddings: np.ndarray
    hashes: list[str]
    hard: int  # the first ``hard`` rows are the hard negatives


def mine_negatives(
    positives: np.ndarray,
    library: np.ndarray,
    hashes: list[str],
    *,
    hard: int,
    random: int,
    rng: np.random.Generator,
) -> Negatives:
    """Pick ``hard`` nearest and ``random`` other library embeddings (examples excluded)."""
    if len(library) == 0:
        return Negatives(np.zeros((0, positives.shape[1]), np.float32), [], 0)
    sim = (library @ positives.T).max(axis=1)  # similarity to the closest positive
    order = np.argsort(-sim, kind="stable")
    hard_idx = order[:hard]
    rest = order[hard:]
    rand_idx = rng.choice(rest, size=min(random, len(rest)), replace=False) if len(rest) else []
    idx = np.concatenate([hard_idx, np.asarray(rand_idx, dtype=np.int64)]).astype(np.int64)
    return Negatives(library[idx], [hashes[i] for i in idx], len(hard_idx))
