"""A newcomer's first run, as separate processes, on a machine that cannot reach the model hub.

Default configuration (only HOME points into the test folder). HF_HUB_OFFLINE is NOT set:
photod's own probe must find out that the hub is unreachable (HF_ENDPOINT is a closed local
port, so "unreachable" is certain and immediate). Before the probe, each process that wanted
CLIP stalled 47 s in huggingface_hub's retries and logged 22 warnings twice.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from concept_fixtures import composite, save
from service.helpers import NotifySocket

from tests.conftest import write_photo

CLIP_MODEL = "'ViT-B-32/laion2b_s34b_b79k'"


def newcomer_env(home: Path) -> dict[str, str]:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOTOD_", "XDG_", "HF_"))}
    env.pop("TRANSFORMERS_OFFLINE", None)
    env.update(HOME=str(home), HF_ENDPOINT=f"http://127.0.0.1:{port}", PYTHONUNBUFFERED="1")
    return env


def photod(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "photod", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result, time.monotonic() - start


def assert_clean(log: str, clip_lines: int) -> None:
    """No traceback, no retry storm, and the missing model said exactly ``clip_lines`` times."""
    assert "Traceback" not in log and "Retrying" not in log, log
    said = [line for line in log.splitlines() if CLIP_MODEL in line]
    assert len(said) == clip_lines, said
    for line in said:
        assert "cannot be reached" in line and "clip.enabled: false" in line


def test_first_run_without_the_model_hub(tmp_path):
    home = tmp_path / "home"
    pictures = home / "Pictures"
    env = newcomer_env(home)

    # The daemon: READY within seconds, then it indexes the first photo.
    notify = NotifySocket(tmp_path / "notify.sock")
    log = tmp_path / "daemon.log"
    start = time.monotonic()
    with open(log, "wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "photod", "run"],
            env={**env, "NOTIFY_SOCKET": str(notify.path)},
            stdout=out,
            stderr=out,
        )
    try:
        notify.wait_for("READY=1", timeout=30)
        ready_after = time.monotonic() - start
        write_photo(pictures / "first.jpg")
        deadline = time.monotonic() + 30
        while CLIP_MODEL not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a second line, if any, would follow at once
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        notify.close()
    assert ready_after < 10, f"READY after {ready_after:.1f} s"
    assert daemon.returncode == 0
    assert_clean(log.read_text(), clip_lines=1)

    # A scan of one new photo: no stall.
    write_photo(pictures / "second.jpg", seed=1)
    result, seconds = photod(env, "scan", "--no-progress", str(pictures))
    assert result.returncode == 0, result.stderr
    assert "1 indexed" in result.stdout
    assert seconds < 10, f"one-photo scan took {seconds:.1f} s"
    assert_clean(result.stderr, clip_lines=1)

    # Search: nothing captioned yet, said plainly.
    result, _ = photod(env, "search", "beach")
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == "no photos match"

    # A person from a photo with two faces: refused, with a command that works.
    both = save(composite(3), tmp_path / "both.jpg")
    result, _ = photod(
        env, "concept", "add", "Eileen", "--kind", "person", "--class", "woman", both
    )
    assert result.returncode == 1 and "2 faces" in result.stderr
    assert_clean(result.stderr, clip_lines=0)
    suggested = shlex.split(result.stderr.split("`")[1])
    assert suggested[:3] == ["photod", "concept", "add"]
    result, _ = photod(env, *suggested[1:])
    assert result.returncode == 0, result.stderr
    assert "Eileen: 1 example(s) added; retraining in 5 min." in result.stdout
    assert "Traceback" not in result.stderr
