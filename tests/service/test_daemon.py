"""``photod run`` as systemd runs it: notify protocol, watching, reload, clean stop."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import config_yaml, write_photo
from tests.service.helpers import NotifySocket, query, start_daemon, wait_until

SLOW_PLUGIN = """
import time
from photod.pipeline.stage import BaseStage
from photod.plugins import hookimpl

class Slow(BaseStage):
    name = "slow"
    slot = "after_heads"
    def process(self, task):
        time.sleep({delay})
        task.extras["slow"] = True

@hookimpl
def photod_stages():
    return [Slow]
"""


@pytest.fixture
def notify(tmp_path):
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def indexed(index: Path) -> set[str]:
    return {r[0] for r in query(index, "SELECT path FROM photos WHERE status = 'indexed'")}


@pytest.mark.slow  # a real daemon process: 15-30 s
def test_notify_protocol_watching_reload_and_stop(tmp_path, photo_root, notify):
    write_photo(photo_root / "before.jpg")
    second_root = tmp_path / "more"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_yaml(tmp_path, photo_root))
    index = tmp_path / "data" / "index.sqlite"
    proc = start_daemon(cfg, notify, watchdog_usec=400_000, log=tmp_path / "log")
    try:
        msgs = notify.wait_for("READY=1")
        assert any(m.startswith("STATUS=") for m in msgs)
        # The start-up reconcile indexes what was there before.
        wait_until(lambda: str(photo_root / "before.jpg") in indexed(index), what="reconcile")
        # The watcher picks up a photo created while running.
        write_photo(photo_root / "sub" / "new.png", seed=2)
        wait_until(lambda: str(photo_root / "sub" / "new.png") in indexed(index), what="watcher")
        # Renaming keeps the photo's row; deleting removes it.
        before_id = query(
            index, "SELECT id FROM photos WHERE path = ?", (str(photo_root / "before.jpg"),)
        )
        (photo_root / "before.jpg").rename(photo_root / "renamed.jpg")
        wait_until(
            lambda: (
                query(
                    index,
                    "SELECT id FROM photos WHERE path = ?",
                    (str(photo_root / "renamed.jpg"),),
                )
                == before_id
            ),
            what="move",
        )
        (photo_root / "sub" / "new.png").unlink()
        all_rows = "SELECT path FROM photos"
        wait_until(
            lambda: (str(photo_root / "sub" / "new.png"),) not in query(index, all_rows),
            what="deleted photo's row removed",
        )
        # Watchdog pings keep coming (every WATCHDOG_USEC / 2).
        notify.clear()
        notify.wait_for("WATCHDOG=1", timeout=5)
        notify.wait_for("WATCHDOG=1", timeout=5)
        # SIGHUP reloads: a new root from the edited config is watched afterwards.
        cfg.write_text(
            config_yaml(tmp_path, photo_root).replace(
                f"roots: [{photo_root}]", f"roots: [{photo_root}, {second_root}]"
            )
        )
        proc.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1")
        notify.wait_for("READY=1")
        assert second_root.is_dir()  # created because create_missing_roots defaults to true
        write_photo(second_root / "later.webp", seed=3)
        wait_until(lambda: str(second_root / "later.webp") in indexed(index), what="new root")
        # A bad config on reload is refused and the daemon keeps running.
        cfg.write_text("pipeline:\n  queue_size: nope\n")
        proc.send_signal(signal.SIGHUP)
        notify.wait_for("READY=1")
        assert proc.poll() is None
        # SIGTERM: STOPPING=1, clean exit 0, state recorded.
        proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert query(index, "SELECT value FROM meta WHERE key = 'daemon_state'") == [("stopped",)]
    assert "reload failed, keeping the old one" in (tmp_path / "log").read_text()


@pytest.mark.slow  # a real daemon process: 15-30 s
def test_sigterm_drains_photos_in_progress(tmp_path, photo_root, notify):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow.py").write_text(SLOW_PLUGIN.format(delay=0.5))
    for i in range(30):
        write_photo(photo_root / f"p{i:02}.jpg", size=(64, 48), seed=i)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_yaml(tmp_path, photo_root, f"plugins:\n  paths: [{plugins}]\n"))
    index = tmp_path / "data" / "index.sqlite"
    proc = start_daemon(cfg, notify)
    notify.wait_for("READY=1")
    wait_until(lambda: len(indexed(index)) >= 2, what="some photos indexed")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    done = indexed(index)
    assert 2 <= len(done) < 30
    # Nothing half-done: every claimed photo finished, the rest is still queued.
    assert query(index, "SELECT count(*) FROM jobs WHERE state = 'running'") == [(0,)]
    queued = {r[0] for r in query(index, "SELECT path FROM jobs WHERE state = 'queued'")}
    assert queued | done == {str(p) for p in photo_root.glob("*.jpg")}
    assert not queued & done
    assert query(index, "SELECT count(*) FROM failures") == [(0,)]
