"""Negatives mined from the user's own library (users never supply them).

Hard negatives are the non-example photos most similar to the positives by CLIP cosine
similarity (what the head most needs to learn to reject: other mugs, other dogs); a random
sample of the rest keeps the decision calibrated on ordinary photos. A library photo as close
to an example as the two most alike examples are to each other is most likely the concept
itself, not yet labelled (the pet's other photos): it is never a negative, or the head would
learn to reject the very photos it is meant to find.
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
    alike: int  # library photos left out: taken for the concept itself


def mine_negatives(
    positives: np.ndarray,
    library: np.ndarray,
    hashes: list[str],
    *,
    hard: int,
    random: int,
    rng: np.random.Generator,
) -> Negatives:
    """Pick ``hard`` nearest and ``random`` other library embeddings (examples, and photos
    at least :func:`same_concept_similarity` to a positive, excluded)."""
    if len(library) == 0:
        return Negatives(np.zeros((0, positives.shape[1]), np.float32), [], 0, 0)
    sim = (library @ positives.T).max(axis=1)  # similarity to the closest positive
    order = np.argsort(-sim, kind="stable")
    kept = order[sim[order] < same_concept_similarity(positives)]
    alike, order = len(order) - len(kept), kept
    hard_idx = order[:hard]
    rest = order[hard:]
    rand_idx = rng.choice(rest, size=min(random, len(rest)), replace=False) if len(rest) else []
    idx = np.concatenate([hard_idx, np.asarray(rand_idx, dtype=np.int64)]).astype(np.int64)
    return Negatives(library[idx], [hashes[i] for i in idx], len(hard_idx), alike)


def same_concept_similarity(positives: np.ndarray) -> float:
    """How alike the two most alike positives are (infinite with one positive: nothing is
    excluded); a library photo this close to one is taken for the concept."""
    if len(positives) < 2:
        return float("inf")
    pp = positives @ positives.T
    np.fill_diagonal(pp, -np.inf)
    return float(pp.max())
