"""kill -9 in the middle of indexing: the restart finishes, every photo indexed exactly once."""

from __future__ import annotations

import hashlib
import os
import signal

import pytest

from tests.conftest import config_yaml, write_photo
from tests.service.helpers import NotifySocket, query, start_daemon, wait_until
from tests.service.test_daemon import SLOW_PLUGIN

N_PHOTOS = 300


@pytest.mark.slow  # a real daemon process: 15-30 s
def test_sigkill_mid_indexing_then_restart(tmp_path, photo_root):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    # A little work per photo so the kill lands with photos in every stage.
    (plugins / "slow.py").write_text(SLOW_PLUGIN.format(delay=0.01))
    for i in range(N_PHOTOS):
        write_photo(photo_root / f"d{i % 7}" / f"p{i:03}.jpg", size=(96, 64), seed=i)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_yaml(tmp_path, photo_root, f"plugins:\n  paths: [{plugins}]\n"))
    index = tmp_path / "data" / "index.sqlite"

    notify = NotifySocket(tmp_path / "n.sock")
    proc = start_daemon(cfg, notify, log=tmp_path / "log1")
    notify.wait_for("READY=1")
    count = "SELECT count(*) FROM photos"
    running = "SELECT count(*) FROM jobs WHERE state = 'running'"

    def first(sql: str) -> int:
        return (query(index, sql) or [(0,)])[0][0]

    # Kill while photos are inside the pipeline: the pipeline can be briefly idle, waiting
    # for the start-up reconcile to queue more, and a kill then would test less.
    wait_until(
        lambda: first(count) >= N_PHOTOS // 3 and first(running) > 0,
        timeout=120,
        what="a third of the photos indexed and more in the pipeline",
    )
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = first(count)
    assert partial < N_PHOTOS, "the kill came too late to test anything"
    # Work was left unfinished in the queue, not lost.
    assert first("SELECT count(*) FROM jobs") > 0
    interrupted = first(running)

    proc = start_daemon(cfg, notify, log=tmp_path / "log2")
    try:
        notify.wait_for("READY=1")
        wait_until(
            lambda: (
                query(index, "SELECT count(*) FROM jobs")[0][0] == 0
                and query(index, count)[0][0] == N_PHOTOS
            ),
            timeout=180,
            what="restart to finish",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()

    rows = query(index, "SELECT path, content_hash, size, status FROM photos ORDER BY path")
    files = sorted(photo_root.rglob("*.jpg"))
    assert [r[0] for r in rows] == [str(f) for f in files]  # each photo exactly once
    for (path, digest, size, status), f in zip(rows, files, strict=True):
        data = f.read_bytes()
        assert digest == hashlib.blake2b(data, digest_size=16).hexdigest(), path
        assert size == len(data) and status == "indexed", path
    assert query(index, "SELECT count(*) FROM failures") == [(0,)]
    # The photos caught mid-pipeline were put back (if the kill found any: it can land
    # in the moment between one claim's commit and the next).
    if interrupted:
        assert f"re-queued {interrupted} job(s)" in (tmp_path / "log2").read_text()
