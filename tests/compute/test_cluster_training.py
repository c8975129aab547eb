"""Concept training with ``compute.backend: ray``: the head trains here, each VLM's embedding as
a Ray task on the real loopback cluster; the same embedding as a local training, one version
even when the task's worker is killed mid-training, and a local training when the cluster
cannot be reached. Toy-world photos, the toy CLIP and toy LLaVA fixtures, real SQLite."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch

import photod.vlm.registry as vlm_registry
from photod.app import build_app
from photod.compute.cluster import ComputeError, check_reachable
from photod.compute.embedding import RayEmbeddings, vlm_versions
from photod.concepts.catalog import artifact_store
from photod.concepts.training import EmbeddingRequest
from photod.config import ComputeConfig
from photod.index import concepts as store
from photod.vlm.embeddings import load_embedding
from photod_lab.toyworld.concepts import concept_scene, toy_concepts
from photod_lab.toyworld.fixture import fixtures_root
from photod_lab.toyworld.scenes import SceneGenerator
from tests.compute.cluster import free_port
from tests.concept_fixtures import builtin_registry, index_photos, make_config

FIXTURES = fixtures_root()
VLM_YAML = f"""
vlm:
  models:
    - id: toy
      model: local-dir:{FIXTURES / "toy-llava"}
      training: {{steps: 12, views: 2, init_scale: 30, learning_rate: 0.3, vqa: false}}
  max_new_tokens: 12
concepts:
  holdout_fraction: 0.25
"""


def _photos(folder: Path) -> tuple[list[str], list[str]]:
    """Eight photos of the toy world's dotted star (bob) and twelve without it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    bob = toy_concepts()[0]
    examples = []
    for i in range(8):
        path = folder / f"bob-{i}.png"
        concept_scene(rng, [bob], n_other=int(rng.integers(0, 2))).image().save(path)
        examples.append(str(path))
    library = []
    for i, scene in enumerate(SceneGenerator(11).batch(12)):
        path = folder / f"other-{i}.png"
        scene.image().save(path)
        library.append(str(path))
    return examples, library


def _trained(tmp: Path, photos: Path, compute: str = "", *, during=None):
    """Index the library here, add bob and train him with ``compute`` YAML; returns the
    config, the outcome and the version folder. ``during(app)`` runs beside the training."""
    examples, library = _photos(photos)
    tmp.mkdir(parents=True, exist_ok=True)
    config = make_config(tmp, VLM_YAML + compute, clip_dir=FIXTURES / "toy-clip")
    reg = builtin_registry()
    reg.register(vlm_registry, "builtin_vlm_backends", "test")
    scan = config.model_copy(update={"compute": ComputeConfig()})  # the scan stays local
    with build_app(scan, plugins=reg) as app:
        index_photos(app, library)
        cid = app.index.write(
            lambda db: (
                store.add_concept(db, "Bob", kind="object", class_word="star", identifier="bob").id
            )
        )
        app.index.write(lambda db: [store.add_example(db, cid, p) for p in examples])
    with build_app(config, plugins=reg) as app:
        side = threading.Thread(target=during, args=(app,), daemon=True) if during else None
        if side:
            side.start()
        outcome = app.trainer.train(cid)
        if side:
            side.join(30)
    return config, outcome, artifact_store(config.paths.data_dir).version_dir(cid, 1)


def _ray_yaml(address: str) -> str:
    return f"compute:\n  backend: ray\n  address: {address}\n  retries: 2\n"


def test_a_concept_trained_on_the_cluster_has_the_local_embedding(tmp_path, ray_cluster):
    photos = tmp_path / "photos"
    _, local, local_dir = _trained(tmp_path / "local", photos)
    config, remote, remote_dir = _trained(tmp_path / "ray", photos, _ray_yaml(ray_cluster.address))
    here, here_meta = load_embedding(local_dir, "toy")
    there, there_meta = load_embedding(remote_dir, "toy")
    # The head chose the same examples; the worker trained on their bytes with the same seed.
    meta = json.loads((remote_dir / "meta.json").read_text())
    assert meta["vlm_examples"] == json.loads((local_dir / "meta.json").read_text())["vlm_examples"]
    assert there_meta["targets"] == here_meta["targets"]
    # Not bit-identical: a Ray worker runs torch on its own CPU share (another thread count,
    # another summation order); measured 2026-12-03 the largest difference was 4e-8.
    assert torch.allclose(here, there, rtol=0, atol=1e-6), float((here - there).abs().max())
    # The worker's model version (checked against this process's) is recorded with it.
    assert there_meta["model_version"].startswith(f"local-dir:{FIXTURES / 'toy-llava'}#")
    assert meta["vlm"]["toy"]["model_version"] == there_meta["model_version"]
    assert remote.version == local.version == 1 and remote.metrics["vlm_seconds"] > 0


def _training_worker() -> int | None:
    # Ray titles a worker process after the task it runs.
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"ray::photod-train-") or b"ray::train_on_worker" in cmdline:
            return int(pid)
    return None


def test_a_worker_killed_mid_training_is_retried_without_a_second_version(tmp_path, ray_cluster):
    killed: list[int] = []

    def kill_the_worker(app) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            pid = _training_worker()
            if pid is not None:
                time.sleep(0.5)  # inside the task (importing, loading the VLM, training)
                with contextlib.suppress(ProcessLookupError):  # it finished meanwhile
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.05)

    config, outcome, vdir = _trained(
        tmp_path, tmp_path / "photos", _ray_yaml(ray_cluster.address), during=kill_the_worker
    )
    assert killed, "the training task never started on a worker"
    assert outcome.version == 1
    store_dir = vdir.parent
    assert sorted(p.name for p in store_dir.iterdir() if p.is_dir()) == [vdir.name]
    vector, meta = load_embedding(vdir, "toy")
    assert vector.shape == (1, 128) and meta["model_version"]


def test_an_unreachable_cluster_is_said_once_and_the_embedding_trains_here(tmp_path, caplog):
    address = f"127.0.0.1:{free_port()}"
    yaml = _ray_yaml(address) + "  retry_seconds: 0.001\n"  # every training tries again
    config = make_config(tmp_path, VLM_YAML + yaml, clip_dir=FIXTURES / "toy-clip")
    examples, _ = _photos(tmp_path / "photos")
    request = EmbeddingRequest("bob", "star", "object", examples[:2], {}, {})

    def run(job):
        assert len(job.images) == 2 and job.versions == vlm_versions(config)
        check_reachable(address)  # nothing listens there: the real check fails
        raise AssertionError("reached a closed port")

    remote = RayEmbeddings(config, run, ComputeError)
    trained_here: list[int] = []

    def here():
        trained_here.append(1)
        return {"toy": {}}

    with caplog.at_level(logging.DEBUG, logger="photod.compute.embedding"):
        for _ in range(3):
            time.sleep(0.01)
            assert remote(request, tmp_path, here) == {"toy": {}}
    assert len(trained_here) == 3
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and "cannot be reached" in said[0], said
    assert sum("still unusable" in r.getMessage() for r in caplog.records) == 2
