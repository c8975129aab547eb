"""Scheduled retraining with the real APScheduler, watchdog and dlib models: an example
dropped into the folder while the daemon runs retrains the concept and re-runs exactly the
photos it affects; a kill -9 during training leaves the previous version active and the job
queued."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from concept_fixtures import builtin_registry, face_variant, make_config, run_queue, save
from PIL import Image

from photod.app import build_app
from photod.concepts.runtime import ConceptRuntime
from photod.concepts.scheduler import request_training
from photod.index import concepts as store
from photod.index import jobs
from photod.index.queries import training_status

FAST = "concepts:\n  retrain_delay_seconds: 0.3\n"


def _wait(cond, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def world(tmp_path: Path):
    """A library (two photos of Eileen, one of the cameraman, one without a face), indexed,
    and 'Eileen' trained from two examples: version 1."""
    config = make_config(tmp_path, FAST)
    app = build_app(config, plugins=builtin_registry())
    index = app.index
    lib = tmp_path / "photos"
    noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    photos = {
        "a1": save(face_variant("astronaut", 11), lib / "a1.jpg"),
        "a2": save(face_variant("astronaut", 12), lib / "a2.jpg"),
        "cam": save(face_variant("camera", 11), lib / "cam.jpg"),
        "none": save(Image.fromarray(noise), lib / "none.jpg"),
    }
    index.write(lambda db: [jobs.enqueue(db, jobs.INDEX, p) for p in photos.values()])
    run_queue(app)
    ex = [save(face_variant("astronaut", s), tmp_path / f"ex/{s}.jpg") for s in (1, 2)]

    def add(db):
        c = store.add_concept(db, "Eileen", kind="person", class_word="woman")
        for p in ex:
            store.add_example(db, c.id, p)
        return c.id

    cid = index.write(add)
    app.trainer.train(cid)
    run_queue(app)
    yield SimpleNamespace(config=config, app=app, cid=cid, photos=photos)
    app.close()


def _versions(app, photos):
    db = app.index.reader()
    out = {}
    for key, path in photos.items():
        out[key] = db.execute(
            "SELECT d.concept_version FROM detections d JOIN photos p ON p.id = d.photo_id "
            "WHERE p.path = ?",
            (path,),
        ).fetchall()
    return out


def test_example_dropped_in_folder_retrains_and_reruns_affected_photos_only(world, tmp_path):
    app, photos = world.app, world.photos
    assert _versions(app, photos) == {"a1": [(1,)], "a2": [(1,)], "cam": [], "none": []}
    runtime = ConceptRuntime(app, sync_seconds=0.5).start()
    try:
        save(face_variant("astronaut", 3), world.config.examples_dir / "Eileen" / "new.jpg")
        assert _wait(lambda: store.get_concept(app.index.reader(), world.cid).version == 2)
    finally:
        runtime.stop()
    examples = store.list_examples(app.index.reader(), world.cid)
    assert [e.source for e in examples] == ["cli", "cli", "folder"]
    queued = app.index.reader().execute("SELECT path, payload FROM jobs ORDER BY path").fetchall()
    assert queued == [(photos["a1"], '{"force": true}'), (photos["a2"], '{"force": true}')]
    run_queue(app)
    assert _versions(app, photos) == {"a1": [(2,)], "a2": [(2,)], "cam": [], "none": []}
    assert training_status(app.index.reader()) == []


KILLED_TRAINER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from concept_fixtures import builtin_registry
    from photod.app import build_app
    from photod.concepts.artifacts import ArtifactStore
    from photod.concepts.runtime import ConceptRuntime
    from photod.config import load_config

    config = load_config(Path(sys.argv[1]), environ={})
    app = build_app(config, plugins=builtin_registry())
    real_write = ArtifactStore.write

    def write_then_hang(self, *args, **kwargs):
        # The new version is on disk, the switch has not happened: the worst moment to die.
        real_write(self, *args, **kwargs)
        Path(sys.argv[2]).write_text("written")
        time.sleep(3600)

    ArtifactStore.write = write_then_hang
    ConceptRuntime(app, sync_seconds=0.5).start()
    time.sleep(3600)
    """
)


def test_kill_9_during_training_keeps_previous_version_and_job(world, tmp_path):
    app, cid = world.app, world.cid
    extra = save(face_variant("astronaut", 4), tmp_path / "ex/4.jpg")
    app.index.write(lambda db: store.add_example(db, cid, extra))
    app.index.write(lambda db: request_training(db, cid, world.config.concepts))
    script, flag = tmp_path / "killed.py", tmp_path / "written.flag"
    script.write_text(KILLED_TRAINER)
    # The child imports the same photod as this test (the PYTHONPATH it runs under, if any).
    paths = [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "config.yaml"), str(flag)], env=env
    )
    try:
        assert _wait(flag.exists, timeout=60), "the training never reached the switch"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert store.get_concept(app.index.reader(), cid).version == 1
    [job] = training_status(app.index.reader())
    assert job["state"] == "running" and job["attempts"] == 1  # still there, not lost
    # The next start re-queues it and trains once; the orphaned folder is never activated.
    runtime = ConceptRuntime(app, sync_seconds=0.5).start()
    try:
        assert _wait(lambda: store.get_concept(app.index.reader(), cid).version == 3)
    finally:
        runtime.stop()
    assert training_status(app.index.reader()) == []
    assert app.catalog.artifacts.versions(cid) == [1, 3]
