"""A compute worker: the models of the pipeline, built once in a worker process.

:class:`ModelWorker` is the body of a Ray actor (and of nothing Ray-specific): it is built
with the driver's configuration and the composition root's ``build`` function, loads its
models through the model-session layer on first use, and turns :class:`WorkItem` batches into
:class:`WorkResult` lists. Every result carries the worker's :func:`model_versions`, which the
driver compares across workers before it writes anything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from photod.compute.snapshot import SnapshotCatalog
from photod.compute.work import WorkItem, WorkResult, run_items
from photod.concepts.catalog import ActiveConcepts
from photod.config import Config, PathsConfig
from photod.index import Index
from photod.index.features import forget_clip
from photod.ingest.decode import DecodeLimits
from photod.pipeline.stage import Stage

log = logging.getLogger(__name__)


@dataclass
class WorkerParts:
    """What the composition root builds for a worker (``photod.app.build_worker``)."""

    #: The model stages, in pipeline order (no ingest, no index commit).
    stages: list[Stage]
    catalog: SnapshotCatalog
    #: Model name -> version (see :func:`model_versions`).
    versions: dict[str, str]
    #: The worker's scratch index (its CLIP cache while a batch runs).
    index: Index
    #: Frees the models and closes the scratch index.
    close: Callable[[], None]


Build = Callable[[Config, Path], WorkerParts]


def worker_config(config: Config, scratch: Path) -> Config:
    """The driver's configuration as a worker uses it: its own scratch data and state folders,
    and the driver's model cache where the same path exists here (a shared model folder
    mounted at the same place), else this machine's default cache."""
    cache = config.paths.cache_dir if config.paths.cache_dir.exists() else PathsConfig().cache_dir
    paths = PathsConfig(data_dir=scratch / "data", cache_dir=cache, state_dir=scratch / "state")
    return config.model_copy(update={"paths": paths})


def fingerprint(reference: str) -> str:
    """A model reference with, for a local folder, a digest of its files' names and sizes:
    two machines with different copies of "the same" folder do not agree."""
    path = Path(reference.removeprefix("local-dir:")).expanduser()
    if not path.is_dir():
        return reference
    digest = hashlib.blake2b(digest_size=8)
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{f.relative_to(path)}:{f.stat().st_size};".encode())
    return f"{reference}#{digest.hexdigest()}"


def model_versions(config: Config, heads: Sequence) -> dict[str, str]:
    """Every model a worker runs, with its version: each head's model id, CLIP's and each
    VLM's reference (with a digest of a local folder's files)."""
    versions = {f"head:{h.name}": h.model_id for h in heads}
    if config.clip.enabled:
        versions["clip"] = fingerprint(config.clip.model)
    for m in config.vlm.models:
        versions[f"vlm:{m.id}"] = fingerprint(m.model)
    return versions


#: A worker's scratch folder: ``photod-worker-<pid>-<random>`` in the temporary folder.
SCRATCH = "photod-worker-"


def _remove_orphans(tmp: Path) -> None:
    # A worker killed outright (out of memory, its batch retried elsewhere) cannot clean up:
    # the next worker on the machine removes the folders of workers that no longer run.
    for folder in tmp.glob(f"{SCRATCH}*-*"):
        pid = folder.name.removeprefix(SCRATCH).split("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class ModelWorker:
    """Runs the model half of the pipeline on batches of work items (one per Ray actor)."""

    def __init__(self, build: Build, config: Config) -> None:
        _remove_orphans(Path(tempfile.gettempdir()))
        self._scratch = tempfile.TemporaryDirectory(prefix=f"{SCRATCH}{os.getpid()}-")
        scratch = Path(self._scratch.name)
        self._limits = DecodeLimits.from_config(config.ingest)
        self._parts = build(worker_config(config, scratch), scratch)
        log.info("photod compute worker %d ready: %s", os.getpid(), self._parts.versions)

    def versions(self) -> dict[str, str]:
        """This worker's model versions."""
        return dict(self._parts.versions)

    def pid(self) -> int:
        """The worker's process id (the tests kill it)."""
        return os.getpid()

    def process(self, snapshot: ActiveConcepts, items: Sequence[WorkItem]) -> list[WorkResult]:
        """Decode and run the models on ``items`` with the driver's concepts ``snapshot``."""
        catalog = self._parts.catalog
        if snapshot.signature != catalog.signature:
            catalog.install(snapshot)
        catalog.set_rejected({i.content_hash: set(i.rejected) for i in items if i.rejected})
        results = run_items(self._parts.stages, items, self._limits)
        # After the batch's own writes (one writer, in order): the driver keeps the embeddings.
        self._parts.index.submit(forget_clip)
        for result in results:
            result.versions = self._parts.versions
        return results

    def close(self) -> None:
        """Free the models and the scratch folder."""
        try:
            for stage in self._parts.stages:
                stage.close()
            self._parts.close()
        finally:
            self._scratch.cleanup()
