"""The Ray side: connect to the cluster, start the model workers, send them batches.

The only module of photod that imports Ray (the ``ray`` extra), inside its functions. Each
:class:`WorkerPool` actor is a :class:`~photod.compute.worker.ModelWorker` holding the models;
it asks for ``gpus_per_worker`` GPUs where the cluster has any and CPUs otherwise. A worker
process that dies is restarted by Ray and the batch it held is sent again (Ray's actor task
retries, then the pool's own): the driver receives each photo's result once, and commits it
once. :func:`run_embedding_task` trains one concept's VLM embeddings as a Ray task, retried
the same way.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import queue
import socket
import threading
from collections.abc import Sequence
from typing import Any

from photod.compute.embedding import BuildVlm, EmbeddingJob, EmbeddingResult, train_on_worker
from photod.compute.work import WorkItem, WorkResult
from photod.compute.worker import Build, ModelWorker
from photod.concepts.catalog import ActiveConcepts
from photod.config import ComputeConfig, Config
from photod.errors import ConfigError, PhotodError

log = logging.getLogger(__name__)

#: Seconds to wait for the cluster's port before calling it unreachable.
CONNECT_TIMEOUT = 5.0
#: Seconds for the model workers to start (a cluster without room for them never starts them).
START_TIMEOUT = 120.0


class ComputeError(PhotodError):
    """The cluster cannot be used: unreachable, or its workers disagree on the models."""


def require_ray() -> None:
    """Raise :class:`ConfigError` with the fix when the ``ray`` extra is not installed."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(
            "compute.backend is ray but Ray is not installed: pip install 'photod[ray]'"
        )


def connect(address: str) -> None:
    """Join the Ray cluster at ``address`` (auto, HOST:PORT or ray://HOST:PORT) once per
    process; raise :class:`ComputeError` when it cannot be reached."""
    import ray

    if ray.is_initialized():
        return
    check_reachable(address)
    try:
        ray.init(
            address=address,
            namespace="photod",
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=False,
        )
    except Exception as exc:  # ConnectionError, or Ray's own when no cluster is found
        raise ComputeError(f"the Ray cluster at {address} cannot be reached: {exc}") from exc


def check_reachable(address: str) -> None:
    """Raise :class:`ComputeError` when nothing answers at ``address``'s host and port (Ray
    itself keeps retrying an unreachable cluster for minutes: one quick TCP connect first).
    ``auto`` without ``RAY_ADDRESS`` is left to Ray, which finds this machine's cluster."""
    target = os.environ.get("RAY_ADDRESS", "") if address == "auto" else address
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # auto without RAY_ADDRESS: Ray looks for this machine's cluster (fast)
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise ComputeError(f"the Ray cluster at {target} cannot be reached: {exc}") from exc


class WorkerPool:
    """``compute.workers`` model workers on the cluster, each used by one batch at a time."""

    def __init__(self, compute: ComputeConfig, config: Config, build: Build) -> None:
        self._compute = compute
        self._config = config
        self._build = build
        self._idle: queue.Queue = queue.Queue()
        self._actors: list[Any] = []
        self._snapshot: tuple[tuple, Any] | None = None
        self._lock = threading.Lock()
        #: The model versions every worker reported (they all agree, or start() raised).
        self.versions: dict[str, str] = {}

    def start(self) -> WorkerPool:
        """Connect, start the workers and check that they all run the same models."""
        import ray

        connect(self._compute.address)
        gpus = self._compute.gpus_per_worker if ray.cluster_resources().get("GPU", 0) else 0
        actor_cls = ray.remote(ModelWorker).options(
            num_cpus=self._compute.cpus_per_worker,
            num_gpus=gpus,
            max_restarts=-1,  # a killed worker process is started again, models and all
            max_task_retries=self._compute.retries,
        )
        self._actors = [
            actor_cls.remote(self._build, self._config) for _ in range(self._compute.workers)
        ]
        try:
            reported = ray.get([a.versions.remote() for a in self._actors], timeout=START_TIMEOUT)
        except Exception as exc:  # no room for them (GetTimeoutError), or they failed to build
            self.close()
            raise ComputeError(f"the model workers did not start on the cluster: {exc}") from exc
        if any(v != reported[0] for v in reported):
            self.close()
            raise ComputeError(f"the workers run different models: {reported}")
        self.versions = reported[0]
        for actor in self._actors:
            self._idle.put(actor)
        log.info(
            "Ray cluster: %d model worker(s), %s GPU each; models %s",
            len(self._actors),
            gpus,
            self.versions,
        )
        return self

    def pids(self) -> list[int]:
        """The workers' process ids."""
        import ray

        return ray.get([a.pid.remote() for a in self._actors])

    def run(self, snapshot: ActiveConcepts, items: Sequence[WorkItem]) -> list[WorkResult]:
        """Run ``items`` on the next free worker; a batch whose worker died is sent again
        (``compute.retries`` times) before :class:`ComputeError` is raised. An error of
        photod's own code on the worker is raised as it is (the photos fail, as here)."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        ref = self._snapshot_ref(snapshot)
        actor = self._idle.get()
        try:
            for attempt in range(self._compute.retries + 1):
                try:
                    return ray.get(actor.process.remote(ref, list(items)))
                except RayTaskError:
                    raise  # photod's own code failed there: it would fail here too
                except RayError as exc:  # the worker died, its node went, an object was lost
                    log.warning(
                        "a model worker failed on a batch of %d (attempt %d): %s",
                        len(items),
                        attempt + 1,
                        exc,
                    )
            raise ComputeError(f"a batch failed {self._compute.retries + 1} times on the cluster")
        finally:
            self._idle.put(actor)

    def _snapshot_ref(self, snapshot: ActiveConcepts):
        # The concepts travel once per change, not with every batch.
        import ray

        with self._lock:
            if self._snapshot is None or self._snapshot[0] != snapshot.signature:
                self._snapshot = (snapshot.signature, ray.put(snapshot))
            return self._snapshot[1]

    def close(self) -> None:
        """Stop the workers (the cluster stays up)."""
        import ray

        # Let each worker free its models and scratch folder, then end it.
        closing = [a.close.remote() for a in self._actors]
        if closing:
            ray.wait(closing, num_returns=len(closing), timeout=10)
        for actor in self._actors:
            try:
                ray.kill(actor)
            except Exception:  # already gone with its node
                log.debug("worker already gone", exc_info=True)
        self._actors = []


def run_embedding_task(
    compute: ComputeConfig, config: Config, build: BuildVlm, job: EmbeddingJob
) -> EmbeddingResult:
    """Train one concept's embeddings as a Ray task (``gpus_per_worker`` GPUs where the
    cluster has any) and wait for it. A task whose worker died runs again (``compute.retries``
    times; the driver still gets one result); :class:`ComputeError` when the cluster cannot be
    reached or the task kept failing. An error of photod's own code there is raised as it is."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    connect(compute.address)
    gpus = compute.gpus_per_worker if ray.cluster_resources().get("GPU", 0) else 0
    task = ray.remote(train_on_worker).options(
        num_cpus=compute.cpus_per_worker,
        num_gpus=gpus,
        max_retries=compute.retries,  # the worker process died: Ray runs the task again
        retry_exceptions=False,  # photod's own error would fail again
        name=f"photod-train-{job.request.identifier}",
    )
    try:
        return ray.get(task.remote(build, config, job))
    except RayTaskError:
        raise  # photod's own code failed there: it would fail here too
    except RayError as exc:  # the worker or its node died more often than retried
        raise ComputeError(f"concept training failed on the cluster: {exc}") from exc
