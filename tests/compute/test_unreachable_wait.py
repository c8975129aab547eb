"""``compute.on_unreachable: wait``: while the cluster cannot be reached the driver runs no
model here and writes no result, says so once and keeps every job queued; once the cluster
answers, the same queue drains through it and each photo is indexed exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from photod.cli import cli
from tests.compute.cluster import free_port
from tests.compute.conftest import ROOT, library_config, make_photos
from tests.compute.index_rows import index_rows

N = 12
WAIT = "  on_unreachable: wait\n  retry_seconds: 0.2\n"


def _compute(address: str) -> str:
    return f"compute:\n  backend: ray\n  address: '{address}'\n" + WAIT


def _jobs(index_path: Path) -> list[tuple]:
    if not index_path.exists():
        return []
    conn = sqlite3.connect(index_path, timeout=30)
    try:
        return conn.execute("SELECT path, state FROM jobs").fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return []
    finally:
        conn.close()


def test_waiting_for_the_cluster_runs_nothing_here_and_loses_nothing(tmp_path, ray_cluster):
    photos = make_photos(tmp_path / "photos", N, faces=1)
    config = library_config(tmp_path, photos[0].parent, _compute(f"127.0.0.1:{free_port()}"))
    cmd = [sys.executable, "-m", "photod", "--config", str(tmp_path / "config.yaml"), "scan"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    # A driver of its own: this process is already joined to the running test cluster.
    log_path = tmp_path / "driver.log"
    with log_path.open("w") as log:
        driver = subprocess.Popen([*cmd, "--no-progress"], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while "cannot be reached" not in log_path.read_text() or len(_jobs(config.index_path)) < N:
            assert driver.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the driver never tried the cluster"
            time.sleep(0.1)
        time.sleep(2.0)  # ten retry periods: still waiting, still said once
        assert driver.poll() is None, log_path.read_text()  # waits, neither exits nor fails
        rows = index_rows(config.index_path)
    finally:
        driver.kill()  # SIGKILL: a waiting driver that dies loses nothing either
        driver.wait()
    said = log_path.read_text()
    assert said.count("cannot be reached") == 1 and "waiting for it" in said, said
    # Running a model here logs its load ("CLIP model ... loaded", "loaded VLM ..."): none did.
    assert "running the models here" not in said and "loaded" not in said, said
    assert rows["photos"] == rows["captions"] == rows["clip"] == rows["failures"] == []
    assert sorted(p for _, p, _ in rows["jobs"]) == sorted(str(p) for p in photos)
    assert driver.returncode == -signal.SIGKILL

    # The same library, now pointed at the running cluster: the queue drains through it.
    library_config(tmp_path, photos[0].parent, _compute(ray_cluster.address))
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "config.yaml"), "scan", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    rows = index_rows(config.index_path)
    assert sorted(r[0] for r in rows["photos"]) == sorted(str(p) for p in photos)  # once each
    assert len(rows["captions"]) == len(rows["clip"]) == N and rows["faces"]
    assert rows["jobs"] == [] and rows["failures"] == []
    conn = sqlite3.connect(config.index_path)
    try:
        recorded = conn.execute("SELECT value FROM meta WHERE key = 'compute_models'").fetchone()
    finally:
        conn.close()
    assert recorded and "vlm:toy-blip2" in json.loads(recorded[0])  # the cluster's workers ran
