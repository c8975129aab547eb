"""A compute worker's model versions and its view of the driver's concepts, in-process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from photod.compute.snapshot import SnapshotCatalog
from photod.compute.worker import fingerprint, model_versions, worker_config
from photod.concepts.catalog import ActiveConcepts
from photod.index.concepts import Concept
from photod.pipeline.task import Detection
from tests.compute.conftest import FIXTURES, library_config


def test_a_model_folder_copied_differently_has_another_version(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"x" * 10)
    assert (
        fingerprint(f"local-dir:{a}").split("#")[1] == fingerprint(f"local-dir:{b}").split("#")[1]
    )
    (b / "model.safetensors").write_bytes(b"x" * 9)  # a truncated copy
    assert (
        fingerprint(f"local-dir:{a}").split("#")[1] != fingerprint(f"local-dir:{b}").split("#")[1]
    )
    assert fingerprint("hf-hub:org/model") == "hf-hub:org/model"


def test_the_versions_name_every_model(tmp_path: Path):
    config = library_config(tmp_path, tmp_path / "photos")

    class Head:
        name, model_id = "person", "face-keys:dlib"

    versions = model_versions(config, [Head()])
    assert versions["head:person"] == "face-keys:dlib"
    assert versions["clip"].startswith(f"local-dir:{FIXTURES / 'toy-clip'}#")
    assert versions["vlm:toy-blip2"].startswith(f"local-dir:{FIXTURES / 'toy-blip2'}#")


def test_a_worker_keeps_its_own_data_and_the_shared_cache(tmp_path: Path):
    config = library_config(tmp_path, tmp_path / "photos")
    config.paths.cache_dir.mkdir(parents=True)
    mine = worker_config(config, tmp_path / "scratch")
    assert mine.paths.data_dir == tmp_path / "scratch" / "data"
    assert mine.paths.cache_dir == config.paths.cache_dir  # the same path exists here
    assert mine.vlm == config.vlm and mine.clip == config.clip


def test_the_snapshot_serves_the_drivers_concepts_and_rejections():
    rex = Concept(id=3, name="Rex", identifier="rex", kind="pet", class_word="dog", version=2)
    catalog = SnapshotCatalog(vlm_ids=["toy"])
    snap = ActiveConcepts((("rex", 2),), {3: rex}, {3: ({}, {})}, {(3, "toy"): "embedding"})
    catalog.install(snap)
    assert catalog.signature == snap.signature
    fired = catalog.fired([Detection(3, 0.9, "object", 2)], "toy")
    assert [(f.name, f.embedding) for f in fired] == [("Rex", "embedding")]
    assert catalog.fired([Detection(3, 0.9, "object", 1)], "toy") == []  # an older version
    catalog.set_rejected({"h1": {3}})
    assert catalog.rejected_on(["h1", "h2"]) == {"h1": {3}}


def test_the_scratch_folders_of_killed_workers_are_removed(tmp_path: Path):
    from photod.compute.worker import SCRATCH, _remove_orphans

    gone = _a_dead_pid()
    orphan, alive = tmp_path / f"{SCRATCH}{gone}-x", tmp_path / f"{SCRATCH}{os.getpid()}-y"
    orphan.mkdir(), alive.mkdir()
    _remove_orphans(tmp_path)
    assert not orphan.exists() and alive.exists()


def _a_dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
