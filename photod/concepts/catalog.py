"""Loading the active version of every concept for the heads that serve them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from photod.concepts.artifacts import ArtifactStore
from photod.heads.base import LoadedConcept
from photod.index.concepts import Concept

log = logging.getLogger(__name__)


def load_active(
    concepts: list[Concept], artifacts: ArtifactStore, head_names: Mapping[str, object]
) -> dict[str, list[LoadedConcept]]:
    """The trained ``concepts`` grouped by head name (untrained or unreadable ones left out)."""
    out: dict[str, list[LoadedConcept]] = {name: [] for name in head_names}
    for concept in concepts:
        if concept.version <= 0:
            continue
        if concept.head_name not in out:
            log.warning(
                "concept %s needs head %r, which is not installed", concept.name, concept.head_name
            )
            continue
        try:
            tensors, meta = artifacts.load(concept.id, concept.version)
        except (OSError, ValueError) as exc:
            log.error("concept %s v%d cannot be loaded: %s", concept.name, concept.version, exc)
            continue
        out[concept.head_name].append(LoadedConcept(concept, tensors, meta))
    return out


def artifact_store(data_dir) -> ArtifactStore:
    """The artifact store under photod's data folder."""
    return ArtifactStore(data_dir / "concepts")
