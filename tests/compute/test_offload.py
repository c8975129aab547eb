"""The driver's side of the compute backend without a cluster: a cluster that cannot be
reached (the scan runs here, says so once, loses nothing), a photo that changed while its
models ran (its results are dropped and it is queued again), ``--on`` and Ray's lazy import."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from photod.app import build_app
from photod.cli.scan import compute_on
from photod.compute.offload import CommitStage, ReadStage
from photod.compute.work import apply, item_of, run_items
from photod.config import ComputeConfig, load_config
from photod.index import jobs
from photod.index.jobs import Job
from photod.ingest.decode import DecodeLimits
from photod.pipeline.task import PhotoTask
from tests.compute.conftest import ROOT, library_config, make_photos
from tests.compute.index_rows import index_rows
from tests.conftest import config_yaml


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens


def test_an_unreachable_cluster_is_said_once_and_the_scan_runs_here(tmp_path: Path):
    photos = make_photos(tmp_path / "photos", 12, faces=1)
    extra = f"compute:\n  backend: ray\n  address: '127.0.0.1:{_closed_port()}'\n"
    config = library_config(tmp_path / "ray", photos[0].parent, extra)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "photod", "--config", str(tmp_path / "ray" / "config.yaml")]
    run = subprocess.run([*cmd, "scan", "--no-progress"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "12 photos found, 12 indexed, 0 failed" in run.stdout
    assert run.stderr.count("cannot be reached") == 1, run.stderr
    assert "running the models here" in run.stderr
    rows = index_rows(config.index_path)  # everything went through all the models, here
    assert len(rows["photos"]) == len(rows["captions"]) == len(rows["clip"]) == 12
    assert rows["faces"] and rows["jobs"] == [] and rows["failures"] == []


def test_results_of_a_photo_that_changed_meanwhile_are_dropped(tmp_path: Path):
    photo, other = make_photos(tmp_path / "photos", 2, faces=0)
    # No models needed to show the commit's check: CLIP and the VLM stay off.
    (tmp_path / "config.yaml").write_text(
        config_yaml(tmp_path, photo.parent, "clip:\n  enabled: false\n")
    )
    config = load_config(tmp_path / "config.yaml", environ={})
    limits = DecodeLimits.from_config(config.ingest)
    with build_app(config) as app:
        read, commit = ReadStage(app.index, limits, 1), CommitStage(app.index, None)
        tasks = []
        for i, path in enumerate((photo, other)):
            task = PhotoTask(job=Job(i + 1, jobs.INDEX, str(path)), path=path)
            read.process(task)
            tasks.append(task)
        results = run_items(app.stages[1:-1], [item_of(t) for t in tasks], limits)
        for task, result in zip(tasks, results, strict=True):
            apply(result, task)
        other.write_bytes(photo.read_bytes())  # `other` changed while its models ran
        for task in tasks:
            commit.process(task)
        assert tasks[0].photo_id is not None and tasks[1].photo_id is None
        indexed = [r[0] for r in app.index.reader().execute("SELECT path FROM photos")]
        assert indexed == [str(photo)]
        queued = app.index.reader().execute("SELECT kind, path, state FROM jobs").fetchall()
        assert queued == [(jobs.INDEX, str(other), "queued")]


def test_on_sets_the_backend_and_address():
    base = ComputeConfig(address="10.0.0.2:6379")
    assert compute_on(base, "ray").backend == "ray"
    assert compute_on(base, "ray").address == "10.0.0.2:6379"
    assert compute_on(base, "ray://gpu-box:10001").address == "ray://gpu-box:10001"
    assert compute_on(base.model_copy(update={"backend": "ray"}), "local").backend == "local"
    with pytest.raises(click.BadParameter):
        compute_on(base, "spark")


def test_photod_does_not_import_ray_unless_a_cluster_is_used():
    code = (
        "import sys, photod.cli, photod.app, photod.compute.offload, photod.compute.worker\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_with_the_ray_backend_the_models_leave_the_driver(tmp_path: Path):
    """What the daemon and the scan run: read here, the model stages offloaded (and kept
    here for when the cluster cannot be reached), the commit here."""
    from photod.compute.offload import OffloadStage

    config = library_config(tmp_path, tmp_path / "photos", "compute:\n  backend: ray\n")
    with build_app(config) as app:
        assert [s.name for s in app.stages] == ["ingest", "offload", "index"]
        offload = app.stages[1]
        assert isinstance(offload, OffloadStage) and offload.pool is None  # connects lazily
        assert {"heads", "personalize"} <= {s.name for s in offload.local}
        for stage in app.stages:
            stage.close()


def test_doctor_says_whether_the_cluster_answers(tmp_path: Path):
    from photod.doctor import WARN
    from photod.doctor.system import check_compute

    local = library_config(tmp_path / "a", tmp_path / "photos")
    assert list(check_compute(local)) == []
    extra = f"compute:\n  backend: ray\n  address: '127.0.0.1:{_closed_port()}'\n"
    [check] = check_compute(library_config(tmp_path / "b", tmp_path / "photos", extra))
    assert check.status == WARN and "cannot be reached" in check.detail
    assert "the models run here" in check.detail and "ray start --head" in check.fix
