"""The composition root: ``build_app(config)`` wires every component from the config.

Nothing else in photod constructs shared components. :func:`build_app` builds, once: the
index, the model sessions, the shared features (face backend and CLIP), the VLM runtime (when
one is configured), the concept catalog (the one owner of the ``concepts/<id>/v<N>/``
layout), the concept heads, the trainer and its scheduler, the stages and the listeners.
Each built-in component receives what it uses through its constructor; a plugin class's
``create(app)`` receives the host :class:`App` and reads its settings through
``app.plugins.settings(name, Model)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from photod.concepts.catalog import ConceptCatalog, artifact_store
from photod.concepts.scheduler import TrainingScheduler, request_training
from photod.concepts.training import Trainer
from photod.config import Config
from photod.heads.base import ConceptHead
from photod.heads.features import SharedFeatures
from photod.index import Index
from photod.index.db import ensure_private_dir
from photod.ingest import places
from photod.ingest.decode import DecodeLimits
from photod.metadata.listener import MetadataListener
from photod.models.cache import ModelSessions
from photod.pipeline.events import CommitListener
from photod.pipeline.stage import SLOTS, Stage
from photod.plugins import PluginRegistry, load_plugins
from photod.processor import JobProcessor
from photod.stages.heads import HeadsStage
from photod.stages.index import IndexStage
from photod.stages.ingest import IngestStage
from photod.stages.locate import LocateStage
from photod.stages.personalize import PersonalizeStage
from photod.stages.places import PlacesStage

if TYPE_CHECKING:
    from photod.compute.worker import WorkerParts
    from photod.vlm.runtime import VlmRuntime
    from photod.watch.watcher import LibraryWatcher

log = logging.getLogger(__name__)


@dataclass
class App:
    """One wired photod: its shared components, the active stages and listeners.

    Built by :func:`build_app` only; ``heads``, ``trainer``, ``scheduler``, the stages and
    the listeners are filled in there once the components they use exist (a plugin's
    ``create(app)`` may read the fields set before it).
    """

    config: Config
    #: The one index facade (reads, and writes through its single writer).
    index: Index
    #: The plugin registry (what ``photod plugins`` lists; validated plugin settings).
    plugins: PluginRegistry
    #: Every model session (the daemon's tick unloads the idle ones).
    models: ModelSessions
    #: The one concept catalog (active versions, the artifact store and its layout).
    catalog: ConceptCatalog
    #: One face backend and one CLIP per process, for the heads stage and training.
    features: SharedFeatures
    #: The VLMs of ``vlm.models`` (None: no VLM configured, or no backend registered).
    vlm: VlmRuntime | None = None
    #: The concept heads (built-in and plugin), shared by the heads stage and training.
    heads: list[ConceptHead] = field(default_factory=list)
    trainer: Trainer = field(init=False)
    scheduler: TrainingScheduler = field(init=False)
    stages: list[Stage] = field(default_factory=list)
    inactive_stages: list[str] = field(default_factory=list)
    listeners: list[CommitListener] = field(default_factory=list)
    inactive_listeners: list[str] = field(default_factory=list)

    def processor(self, *, threaded: bool = True) -> JobProcessor:
        """A job processor over this app's stages."""
        return JobProcessor(
            self.index,
            self.config.pipeline,
            self.stages,
            threaded=threaded,
            listeners=self.listeners,
        )

    def library_watcher(self, wake: Callable[[], None]) -> LibraryWatcher:
        """A (not yet started) watcher of the photo folders that queues into the index."""
        # Imported here: watchdog is only needed by the daemon, not by every CLI command.
        from photod.watch.watcher import LibraryWatcher

        library = self.config.library
        return LibraryWatcher(
            library, self.index, wake=wake, poll_interval=library.poll_interval_seconds
        )

    def close(self) -> None:
        """Free the models and close the index (stages are closed by their processor)."""
        self.models.close()
        self.index.close()

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


def build_vlm(config: Config, plugins: PluginRegistry, models: ModelSessions) -> VlmRuntime | None:
    """The VLM runtime of ``vlm.models`` (models load lazily), or None when there is none."""
    if not config.vlm.models:
        return None
    backends = plugins.collect("photod_vlm_backends")
    if not backends:
        log.warning("vlm.models is set but no VLM backend is registered: no captions")
        return None
    # Imported here: the runtime's backends need torch, which a daemon without VLM never loads.
    from photod.vlm.runtime import VlmRuntime

    runtime = VlmRuntime(
        config.vlm, backends, config.paths.cache_dir, offline=config.models.offline
    )
    for model in runtime.models.values():
        models.add(model)
    return runtime


def build_heads(app: App) -> list[ConceptHead]:
    """Every registered head class built with ``create(app)``; a head that fails to build is
    logged and skipped, one that returns None is configured off."""
    heads = []
    # dict.fromkeys: a head registered twice (entry point + loose file) runs once.
    for head_cls in dict.fromkeys(app.plugins.collect("photod_heads")):
        head = _create("head", head_cls, app)
        if head is not None:
            heads.append(head)
    return heads


def _retrainer(app: App) -> Callable[[list[int]], None]:
    """Queue the retraining of concepts whose active version a head declined."""

    def retrain(concept_ids: list[int]) -> None:
        log.warning("retraining %d concept(s) trained on another model", len(concept_ids))
        app.index.write(
            lambda db: [request_training(db, cid, app.config.concepts) for cid in concept_ids]
        )

    return retrain


def build_stages(
    app: App,
    *,
    rejected: Callable[[list[str]], dict[str, set[int]]] | None = None,
    retrain: bool = True,
) -> tuple[list[Stage], list[str]]:
    """The pipeline, in order: ingest, places, heads, personalize, locate, index, with each
    plugin stage after the built-in stage its ``slot`` names.

    Returns (active stages, names of the stages that are off). The heads stage is off with no
    head, personalize with no VLM, locate with no grounding VLM; a plugin stage that fails to
    build is logged and left out. ``rejected``: where the heads look up the concepts rejected
    on a photo (default: the index; a compute worker gets them from the driver).
    ``retrain``: queue the retraining of concepts a head declines (its version was trained on
    another model); a compute worker leaves that to the driver.
    """
    config = app.config
    slots: dict[str, list[Stage]] = {slot: [] for slot in SLOTS}
    inactive: list[str] = []
    for cls in app.plugins.collect("photod_stages"):
        slot = getattr(cls, "slot", None)
        if slot not in slots:
            log.error("stage %s names no slot of %s and is skipped", _name(cls), list(SLOTS))
            inactive.append(_name(cls))
            continue
        stage = _create("stage", cls, app)
        if stage is None:
            inactive.append(_name(cls))
        else:
            slots[slot].append(stage)
    limits = DecodeLimits.from_config(config.ingest)
    stages: list[Stage] = [IngestStage(app.index, limits, config.pipeline.ingest_workers)]
    if places.available():  # the ``places`` extra: offline reverse geocoding
        stages.append(PlacesStage(places.Geocoder()))
    else:
        inactive.append(PlacesStage.name)
    stages += slots["after_ingest"]
    if app.heads:
        stages.append(
            HeadsStage(
                app.catalog,
                app.features,
                app.heads,
                config.clip.batch_size,
                rejected=rejected or app.index.concepts.rejected_on,
                stale=_retrainer(app) if retrain else lambda concept_ids: None,
            )
        )
    else:
        inactive.append(HeadsStage.name)
    stages += slots["after_heads"]
    if app.vlm is not None:
        stages.append(PersonalizeStage(app.catalog, app.vlm))
    else:
        inactive.append(PersonalizeStage.name)
    # Personalized REC: the first VLM that answers with boxes places the pets and objects.
    grounding = [m.id for m in config.vlm.models if m.grounding is not None]
    if app.vlm is not None and grounding:
        stages.append(LocateStage(app.catalog, app.vlm, grounding[0]))
    else:
        inactive.append(LocateStage.name)
    stages += slots["after_personalize"]
    stages.append(IndexStage(app.index))
    return stages, inactive


def build_listeners(app: App) -> tuple[list[CommitListener], list[str]]:
    """Metadata write-back, then the plugin listeners in registration order.

    Returns (active listeners, names of those that are off); a plugin listener that fails to
    build is logged and left out.
    """
    active: list[CommitListener] = []
    inactive: list[str] = []
    if MetadataListener.wanted(app.config.metadata):
        active.append(MetadataListener(app.config.metadata, app.index))
    else:
        inactive.append(MetadataListener.name)
    for cls in app.plugins.collect("photod_listeners"):
        listener = _create("listener", cls, app)
        if listener is None:
            inactive.append(_name(cls))
        else:
            active.append(listener)
    return active, inactive


def _name(cls: type) -> str:
    return getattr(cls, "name", cls.__name__)


def _create(what: str, cls: type, app: App):
    """``cls.create(app)``; a plugin part that raises is logged and counted as off."""
    try:
        return cls.create(app)
    except Exception as exc:  # a broken plugin must not stop photod
        log.error("%s %s could not start and is skipped: %s", what, _name(cls), exc)
        return None


def _model_app(
    config: Config,
    plugins: PluginRegistry,
    index: Index,
    models: ModelSessions,
    catalog: ConceptCatalog,
) -> App:
    """An app with its shared features, VLM and heads (what the stages need), for
    :func:`build_app` and :func:`build_worker`."""
    app = App(
        config=config,
        index=index,
        plugins=plugins,
        models=models,
        catalog=catalog,
        features=SharedFeatures(config, index, models),
        vlm=build_vlm(config, plugins, models),
    )
    app.heads = build_heads(app)
    return app


def build_worker(config: Config, scratch: Path) -> WorkerParts:
    """The model stages of a compute worker (a Ray actor, :mod:`photod.compute`): the same
    plugins, heads, VLM and stages as :func:`build_app`, over a scratch index in ``scratch``
    (the CLIP cache of this worker) and the concepts the driver sends."""
    from photod.compute.snapshot import SnapshotCatalog
    from photod.compute.worker import WorkerParts, model_versions

    plugins = load_plugins(config.plugins)
    index = Index(scratch / "scratch.sqlite").start()
    models = ModelSessions()
    catalog = SnapshotCatalog(vlm_ids=[m.id for m in config.vlm.models])
    try:
        app = _model_app(config, plugins, index, models, catalog)
        stages, _ = build_stages(app, rejected=catalog.rejected_on, retrain=False)
    except BaseException:
        models.close()
        index.close()
        raise
    versions = model_versions(config, app.heads)
    # Without ingest (the worker decodes the driver's bytes) and the index commit (the driver's).
    return WorkerParts(stages[1:-1], catalog, versions, index, app.close)


def build_vlm_worker(config: Config) -> tuple[VlmRuntime, Callable[[], None]]:
    """The VLMs of a compute worker's concept training (:mod:`photod.compute.embedding`),
    loaded through the model-session layer; returns the runtime and what frees it."""
    models = ModelSessions()
    runtime = build_vlm(config, load_plugins(config.plugins), models)
    if runtime is None:
        models.close()
        raise ValueError("this compute worker has no backend for vlm.models")
    return runtime, models.close


def _remote_embeddings(config: Config):
    """``compute.backend: ray``: the trainer's concept embeddings train on the cluster."""
    from functools import partial

    from photod.compute.cluster import ComputeError, require_ray, run_embedding_task
    from photod.compute.embedding import RayEmbeddings

    require_ray()
    run = partial(run_embedding_task, config.compute, config, build_vlm_worker)
    return RayEmbeddings(config, run, ComputeError)


def _offloaded(app: App) -> list[Stage]:
    """``compute.backend: ray``: the driver's stages (see :mod:`photod.compute.offload`)."""
    # Imported here: photod without the ray extra never reaches this module.
    from photod.compute.cluster import WorkerPool, require_ray
    from photod.compute.offload import offload_stages

    require_ray()
    config = app.config
    return offload_stages(
        app.stages,
        app.index,
        config.compute,
        lambda: WorkerPool(config.compute, config, build_worker),
        app.catalog,
        limits=DecodeLimits.from_config(config.ingest),
        read_workers=config.pipeline.ingest_workers,
        clip_model=config.clip.model if config.clip.enabled else None,
    )


def build_app(config: Config, *, plugins: PluginRegistry | None = None) -> App:
    """Wire photod from ``config``: folders, plugins, the index, the models, the concepts,
    the stages and the listeners.

    ``plugins``: an already loaded registry instead of the installed plugins (tests).
    """
    prepare_dirs(config)
    plugins = plugins if plugins is not None else load_plugins(config.plugins)
    index = Index(config.index_path, busy_timeout_ms=config.index.busy_timeout_ms).start()
    models = ModelSessions()
    try:
        catalog = ConceptCatalog(
            artifact_store(config.paths.data_dir),
            index.concepts,
            vlm_ids=[m.id for m in config.vlm.models],
        )
        app = _model_app(config, plugins, index, models, catalog)
        app.trainer = Trainer(
            index,
            app.features,
            {h.name: h for h in app.heads},
            catalog,
            app.vlm,
            clip_enabled=config.clip.enabled,
            concepts_cfg=config.concepts,
            limits=DecodeLimits.from_config(config.ingest),
            remote=_remote_embeddings(config)
            if config.compute.backend == "ray" and app.vlm is not None
            else None,
        )
        app.scheduler = TrainingScheduler(index, app.trainer.train, config.concepts)
        app.stages, app.inactive_stages = build_stages(app)
        if config.compute.backend == "ray":
            app.stages = _offloaded(app)
        app.listeners, app.inactive_listeners = build_listeners(app)
    except BaseException:
        models.close()
        index.close()
        raise
    log.debug("stages: %s (off: %s)", [s.name for s in app.stages], app.inactive_stages)
    return app
