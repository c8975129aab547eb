"""The composition root: ``build_app(config)`` wires every component from the config.

Nothing else in photod constructs services; components get what they need through their
constructors (see :class:`photod.services.Services`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TypeVar

from photod.concepts.catalog import ConceptCatalog
from photod.concepts.training import Trainer
from photod.config import Config
from photod.errors import PluginError
from photod.heads.features import SharedFeatures
from photod.index import Index
from photod.index.concepts import ConceptError
from photod.index.db import ensure_private_dir
from photod.models.cache import ModelSessions
from photod.pipeline.events import CommitListener
from photod.pipeline.stage import Stage
from photod.plugins import PluginRegistry, load_plugins
from photod.processor import JobProcessor
from photod.services import Services
from photod.stages.heads import HeadsStage
from photod.stages.personalize import PersonalizeStage

log = logging.getLogger(__name__)

S = TypeVar("S", bound=Stage)

# Stages the daemon cannot work without: if one of these fails to build, start-up fails.
ESSENTIAL_STAGES = {"ingest", "index"}


@dataclass
class App:
    """One wired photod: services, the active stages and listeners, and the job processor."""

    config: Config
    services: Services
    stages: list[Stage]
    inactive_stages: list[str] = field(default_factory=list)
    listeners: list[CommitListener] = field(default_factory=list)
    inactive_listeners: list[str] = field(default_factory=list)

    @property
    def index(self) -> Index:
        """The one index facade (reads, and writes through its single writer)."""
        return self.services.index

    @property
    def catalog(self) -> ConceptCatalog:
        """The one concept catalog (active versions, artifact layout)."""
        return self.services.concepts

    @property
    def plugins(self) -> PluginRegistry:
        """The plugin registry (what ``photod plugins`` lists)."""
        return self.services.plugins

    @property
    def models(self) -> ModelSessions:
        """Every model session (the daemon's tick unloads the idle ones)."""
        return self.services.models

    @property
    def features(self) -> SharedFeatures:
        """The heads stage's shared features (one face backend and CLIP per process); a
        private set, loading nothing until used, when the heads stage is off."""
        stage = self._stage(HeadsStage)
        return stage.features if stage is not None else SharedFeatures(self.services)

    def trainer(self, *, progress: bool = False) -> Trainer:
        """The concept trainer over the stages' own models (a VLM is loaded once per
        process); a heads or personalize stage that is off is built for training alone."""
        heads = self._stage(HeadsStage) or HeadsStage.create(self.services)
        if heads is None:
            raise ConceptError("no concept head is installed (see `photod plugins`)")
        personalize = self._stage(PersonalizeStage) or PersonalizeStage.create(self.services)
        vlm = personalize.runtime if personalize is not None else None
        return Trainer(
            self.services, heads.features, heads.heads_by_name, vlm=vlm, progress=progress
        )

    def _stage(self, cls: type[S]) -> S | None:
        return next((s for s in self.stages if isinstance(s, cls)), None)

    def processor(self, *, threaded: bool = True) -> JobProcessor:
        """A job processor over this app's stages."""
        return JobProcessor(
            self.index,
            self.config.pipeline,
            self.stages,
            threaded=threaded,
            listeners=self.listeners,
        )

    def close(self) -> None:
        """Free the models and close the index (stages are closed by their processor)."""
        self.services.models.close()
        self.services.index.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare_dirs(config: Config) -> None:
    """Create photod's own folders owner-only and the photo folders if configured to."""
    for d in (config.paths.data_dir, config.paths.cache_dir, config.paths.state_dir):
        ensure_private_dir(d)
    if config.library.create_missing_roots:
        for root in config.library.roots:
            if not root.exists():
                log.info("creating photo folder %s", root)
                root.mkdir(parents=True, exist_ok=True)


def build_stages(services: Services) -> tuple[list[Stage], list[str]]:
    """Instantiate every registered stage class in position order.

    Returns (active stages, names of stages that configured themselves off). A non-essential
    stage that fails to build is logged with its plugin and left out.
    """
    classes = sorted(services.plugins.collect("photod_stages"), key=lambda c: c.position)
    active, inactive = _create_all("stage", classes, services, ESSENTIAL_STAGES)
    names = [s.name for s in active]
    missing = ESSENTIAL_STAGES - set(names)
    if missing:
        raise PluginError(f"no {', '.join(sorted(missing))} stage registered (disabled plugin?)")
    return active, inactive


def build_listeners(services: Services) -> tuple[list[CommitListener], list[str]]:
    """Instantiate every registered listener class, in registration order.

    Returns (active listeners, names of those that configured themselves off); one that fails
    to build is logged and left out.
    """
    return _create_all("listener", services.plugins.collect("photod_listeners"), services)


def _create_all(
    what: str, classes: list[type], services: Services, essential: Collection[str] = ()
) -> tuple[list, list[str]]:
    active: list = []
    inactive: list[str] = []
    for cls in classes:
        try:
            part = cls.create(services)
        except Exception as exc:
            if cls.name in essential:
                raise PluginError(f"{what} {cls.name} could not start: {exc}") from exc
            log.error("%s %s could not start and is skipped: %s", what, cls.name, exc)
            inactive.append(cls.name)
            continue
        if part is None:
            inactive.append(cls.name)
        else:
            active.append(part)
    return active, inactive


def build_app(config: Config) -> App:
    """Wire photod from ``config``: folders, plugins, the index, the stages."""
    prepare_dirs(config)
    plugins = load_plugins(config.plugins)
    index = Index(config.index_path, busy_timeout_ms=config.index.busy_timeout_ms).start()
    services = Services(config=config, index=index, plugins=plugins)
    try:
        stages, inactive = build_stages(services)
        listeners, listeners_off = build_listeners(services)
    except BaseException:
        index.close()
        raise
    log.debug("stages: %s (off: %s)", [s.name for s in stages], inactive)
    return App(
        config=config,
        services=services,
        stages=stages,
        inactive_stages=inactive,
        listeners=listeners,
        inactive_listeners=listeners_off,
    )
