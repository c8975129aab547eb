"""What a component may use, handed over by the composition root (constructor injection)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from photod.concepts.catalog import ConceptCatalog, artifact_store
from photod.config import Config
from photod.index import Index
from photod.models.cache import ModelSessions
from photod.plugins import PluginRegistry


@dataclass
class Services:
    """The shared services of one photod process.

    Components take the config section they need from ``config`` and reach the index only
    through ``index`` (its repositories, or ``index.write(fn)`` for one transaction).
    """

    config: Config
    index: Index
    plugins: PluginRegistry
    #: Every model session built by a stage, unloaded when idle by the daemon's tick.
    models: ModelSessions = field(default_factory=ModelSessions)

    @cached_property
    def concepts(self) -> ConceptCatalog:
        """The one snapshot of the active concepts (heads, personalize, training)."""
        return ConceptCatalog(
            artifact_store(self.config.paths.data_dir),
            self.index.concepts,
            vlm_ids=[m.id for m in self.config.vlm.models],
        )
