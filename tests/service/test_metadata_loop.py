"""Metadata write-back under the live daemon: photod's own writes never re-trigger it, a
change by another tool is processed exactly once more."""

from __future__ import annotations

import signal
import time

import piexif
import pytest

from tests.conftest import config_yaml, write_photo
from tests.service.helpers import NotifySocket, query, start_daemon, wait_until

# A stage that captions every photo and counts how often it ran, per path.
CAPTIONER = """
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import Caption
from photod.plugins import hookimpl

class Captioner(BaseStage):
    name = "captioner"
    slot = "after_personalize"
    def process(self, task):
        with open({log!r}, "a") as fh:
            fh.write(str(task.path) + "\\n")
        task.captions.append(Caption(text="a test caption", model="test-captioner"))

@hookimpl
def photod_stages():
    return [Captioner]
"""


@pytest.mark.slow  # a real daemon process: 15-30 s
def test_own_writes_do_not_loop_and_foreign_edits_run_once(tmp_path, photo_root):
    runs = tmp_path / "runs.log"
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "captioner.py").write_text(CAPTIONER.format(log=str(runs)))
    photo = write_photo(photo_root / "p.jpg", size=(200, 150))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        config_yaml(
            tmp_path, photo_root, f"plugins:\n  paths: [{plugins}]\nmetadata:\n  enabled: true\n"
        )
    )
    index = tmp_path / "data" / "index.sqlite"
    notify = NotifySocket(tmp_path / "n.sock")
    proc = start_daemon(cfg, notify, log=tmp_path / "log")
    try:
        notify.wait_for("READY=1")

        def description():
            return piexif.load(str(photo))["0th"].get(piexif.ImageIFD.ImageDescription)

        # The sidecar is written first (it records what photod owns), then the photo.
        wait_until(lambda: description() == b"a test caption", what="caption in the EXIF")
        assert (photo_root / "p.jpg.xmp").exists()
        # photod's own write changed the file; give the watcher ample time to (not) react.
        time.sleep(3)
        assert runs.read_text().splitlines() == [str(photo)]
        assert query(index, "SELECT count(*) FROM jobs") == [(0,)]
        stat = (photo.stat().st_size, photo.stat().st_mtime_ns)
        assert query(index, "SELECT size, mtime_ns FROM photos") == [stat]

        # Another tool edits the photo's EXIF: processed once more, then quiet again.
        exif = piexif.load(str(photo))
        exif["0th"][piexif.ImageIFD.Artist] = b"Someone Else"
        piexif.insert(piexif.dump(exif), str(photo))
        wait_until(lambda: len(runs.read_text().splitlines()) == 2, what="re-run after edit")
        time.sleep(3)
        assert len(runs.read_text().splitlines()) == 2
        exif = piexif.load(str(photo))
        assert exif["0th"][piexif.ImageIFD.Artist] == b"Someone Else"  # the edit survived
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
