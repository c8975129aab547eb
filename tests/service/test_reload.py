"""A reload while a photo is stuck past the drain timeout: the old index writer is closed
before a new app starts, never beside it. The daemon runs in-process, driven by ``step(now)``,
with a real index, a real watcher and a real plugin stage that waits for a gate file."""

from __future__ import annotations

import time
from pathlib import Path

from photod.config import load_config
from photod.service.daemon import Daemon
from tests.conftest import config_yaml, write_photo
from tests.service.helpers import query

GATE_PLUGIN = """
import os
import time
from photod.pipeline.stage import BaseStage
from photod.plugins import hookimpl

class Gate(BaseStage):
    name = "gate"
    slot = "after_heads"
    def process(self, task):
        open({started!r}, "w").close()
        while not os.path.exists({gate!r}):
            time.sleep(0.05)

@hookimpl
def photod_stages():
    return [Gate]
"""


def _step_until(daemon: Daemon, cond, what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        daemon.step(time.monotonic())


def test_reload_after_drain_timeout_never_runs_two_writers(tmp_path: Path, photo_root: Path):
    plugins, gate, started = tmp_path / "plugins", tmp_path / "gate", tmp_path / "started"
    plugins.mkdir()
    (plugins / "gate.py").write_text(GATE_PLUGIN.format(started=str(started), gate=str(gate)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        config_yaml(
            tmp_path,
            photo_root,
            f"plugins:\n  paths: [{plugins}]\n  disabled: [builtin_heads]\n"
            "service:\n  drain_timeout_seconds: 0.3\n",
        )
    )
    write_photo(photo_root / "a.jpg", size=(64, 48))
    daemon = Daemon(lambda: load_config(cfg, environ={}))
    daemon.start(load_config(cfg, environ={}))
    try:
        _step_until(daemon, started.exists, "the photo to reach the gate")
        old_app = daemon.app
        old_writer = old_app.index._writer  # the one IndexWriter of that app
        daemon.request_reload()
        for _ in range(3):
            daemon.step(time.monotonic())
            # The reload waits: the old app and its writer are the only ones.
            assert daemon.app is old_app and old_writer._thread is not None

        gate.touch()
        _step_until(daemon, lambda: daemon.app is not old_app, "the reload to finish")
        assert old_writer._thread is None  # closed before the new app was built
        assert daemon.app.index._writer is not old_writer
    finally:
        daemon.shutdown()
    index = load_config(cfg, environ={}).index_path
    assert query(index, "SELECT status FROM photos") == [("indexed",)]
    assert query(index, "SELECT count(*) FROM jobs WHERE state = 'running'") == [(0,)]
