"""What a component may use, handed over by the composition root (constructor injection)."""

from __future__ import annotations

from dataclasses import dataclass

from photod.config import Config
from photod.index import Index
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
