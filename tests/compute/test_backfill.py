"""A backfill on a real two-node Ray cluster indexes exactly what a local scan does, and
loses or duplicates nothing when a worker process or the driver is killed mid-run.

Every index starts with one trained person concept (Eileen, the astronaut), so the
comparison covers her head's detections and her personalized captions, not empty tables."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from photod.cli import cli
from tests.compute.conftest import ROOT, library_config, make_photos
from tests.compute.index_rows import clip_vectors, index_rows, photo_count
from tests.concept_fixtures import face_variant, save

N = 200
FACES = 4  # make_photos' default: the first four photos show Eileen and the cameraman


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """The photo folder every test scans."""
    folder = tmp_path_factory.mktemp("library") / "photos"
    make_photos(folder, N)
    return folder


@pytest.fixture(scope="module")
def taught(tmp_path_factory, library) -> Path:
    """A data folder holding Eileen, trained once here on three new crops of her face (her
    head fires on the library's face photos); each test's index starts as a copy of it."""
    tmp = tmp_path_factory.mktemp("taught")
    ex = [save(face_variant("astronaut", s), tmp / f"examples/e{s}.jpg") for s in (100, 101)]
    library_config(tmp, library)
    runner, config = CliRunner(), ["--config", str(tmp / "config.yaml")]
    add = ["concept", "add", "Eileen", "--kind", "person", "--class", "woman", *ex]
    result = runner.invoke(cli, config + add)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, config + ["concept", "train", "Eileen"])
    assert result.exit_code == 0 and "version 1 active" in result.output, result.output
    return tmp / "data"


def _with_eileen(tmp: Path, taught: Path) -> None:
    shutil.copytree(taught, tmp / "data")


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory, library, taught):
    """The index of a local scan of the library (the reference)."""
    tmp = tmp_path_factory.mktemp("local")
    _with_eileen(tmp, taught)
    config = library_config(tmp, library)
    result = CliRunner().invoke(
        cli, ["--config", str(tmp / "config.yaml"), "scan", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    return index_rows(config.index_path), clip_vectors(config.index_path)


def _ray_config(tmp: Path, library: Path, taught: Path, cluster, **compute):
    _with_eileen(tmp, taught)
    extra = "".join(f"  {k}: {v}\n" for k, v in compute.items())
    return library_config(
        tmp, library, f"compute:\n  backend: ray\n  address: '{cluster.address}'\n" + extra
    )


def _assert_same(config, local_rows) -> None:
    rows, vectors = local_rows
    got = index_rows(config.index_path)
    assert len(got["photos"]) == N and got["jobs"] == [] and got["failures"] == []
    assert len(got["faces"]) == 2 * FACES and got["tags"] and len(got["captions"]) == N
    # Eileen's head fired on the face photos, and their captions were personalized with her.
    eileen = sorted(Path(row[0]).name for row in got["detections"] if row[1] == 1)
    assert eileen == [f"p{i:04d}.jpg" for i in range(FACES)], got["detections"]
    personal = sorted(Path(row[0]).name for row in got["captions"] if '"Eileen": 1' in row[3])
    assert personal == eileen, personal
    for table in rows:
        assert got[table] == rows[table], table
    remote = clip_vectors(config.index_path)
    for h, v in vectors.items():
        np.testing.assert_allclose(remote[h], v, atol=1e-5)


def test_ray_backfill_equals_a_local_scan(tmp_path, library, taught, local_rows, ray_cluster):
    config = _ray_config(tmp_path, library, taught, ray_cluster, workers=2)
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "config.yaml"), "scan", "--on", "ray", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert f"{N} indexed, 0 failed" in result.output
    _assert_same(config, local_rows)
    import json
    import sqlite3

    conn = sqlite3.connect(config.index_path)
    recorded = json.loads(
        conn.execute("SELECT value FROM meta WHERE key = 'compute_models'").fetchone()[0]
    )
    conn.close()
    assert {"clip", "vlm:toy-blip2", "head:person"} <= set(recorded)


def test_a_killed_worker_loses_and_duplicates_nothing(
    tmp_path, library, taught, local_rows, ray_cluster
):
    from photod.app import build_app
    from photod.compute.offload import OffloadStage
    from photod.watch.reconcile import reconcile

    config = _ray_config(tmp_path, library, taught, ray_cluster, workers=2, batch_size=4)
    killed: list[int] = []
    with build_app(config) as app:
        offload = next(s for s in app.stages if isinstance(s, OffloadStage))
        reconcile(app.index, config.library)
        processor = app.processor().start()

        def kill_one() -> None:
            # Mid-run: once some photos are in, a worker process dies with its batch.
            while offload.pool is None or photo_count(config.index_path) < N // 4:
                time.sleep(0.05)
            pid = offload.pool.pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        killer = threading.Thread(target=kill_one, daemon=True)
        killer.start()
        try:
            while processor.pump() or processor.in_flight or app.index.jobs.counts().get("queued"):
                time.sleep(0.05)
        finally:
            processor.wait_idle()
            processor.close()
        killer.join(5)
    assert killed, "the run ended before a worker could be killed"
    assert processor.done == N and processor.failed == 0
    _assert_same(config, local_rows)


def test_a_killed_driver_resumes_from_the_queue(tmp_path, library, taught, local_rows, ray_cluster):
    config = _ray_config(tmp_path, library, taught, ray_cluster, workers=1)
    cmd = [sys.executable, "-m", "photod", "--config", str(tmp_path / "config.yaml"), "scan"]
    cmd += ["--on", "ray", "--no-progress"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while photo_count(config.index_path) < N // 3:
            assert driver.poll() is None, driver.stdout.read().decode()
            assert time.monotonic() < deadline, "the first driver made no progress"
            time.sleep(0.1)
    finally:
        driver.kill()  # SIGKILL: no clean-up of any kind
        driver.wait()
    assert photo_count(config.index_path) < N
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    _assert_same(config, local_rows)
