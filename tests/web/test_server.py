"""The web app through a real uvicorn server on a free loopback port, and in the daemon."""

from __future__ import annotations

import socket

import httpx
import pytest
from conftest_yaml import isolated_yaml

from photod.config import load_config
from photod.errors import ConfigError
from photod.service.daemon import Daemon
from photod.web.server import WebServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_serves_pages_images_and_refuses_forged_posts(shared_library):
    lib = shared_library
    cfg = lib.app.config.web.model_copy(update={"port": free_port()})
    server = WebServer(lib.app, cfg).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            r = client.get("/")
            assert r.status_code == 200 and "photod" in r.text
            assert r.headers["x-frame-options"] == "DENY"
            photo_id = lib.app.index.photos.id_of(lib.both)
            img = client.get(f"/image/{photo_id}/l")
            assert img.status_code == 200 and img.content[:2] == b"\xff\xd8"
            assert client.get("/static/htmx-2.0.11.min.js").status_code == 200
            assert client.post("/faces/1/name", data={"name": "X"}).status_code == 403
    finally:
        server.stop()
    assert not server._thread.is_alive()


def test_daemon_serves_the_web_app_when_enabled(tmp_path):
    port = free_port()
    yaml = isolated_yaml(tmp_path, f"web:\n  enabled: true\n  port: {port}\n")
    (tmp_path / "config.yaml").write_text(yaml)
    config = load_config(tmp_path / "config.yaml", environ={})
    daemon = Daemon(lambda: config)
    daemon.start(config)
    try:
        assert daemon.web is not None
        r = httpx.get(f"http://127.0.0.1:{port}/status")
        assert r.status_code == 200 and "Status" in r.text
    finally:
        daemon.shutdown()
    assert daemon.web is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/status")


def test_daemon_refuses_a_public_address_without_password(tmp_path):
    yaml = isolated_yaml(tmp_path, "web:\n  enabled: true\n  host: 0.0.0.0\n")
    (tmp_path / "config.yaml").write_text(yaml)
    config = load_config(tmp_path / "config.yaml", environ={})
    daemon = Daemon(lambda: config)
    with pytest.raises(ConfigError, match="needs web.password_hash"):
        daemon.start(config)
    daemon.shutdown()


def test_daemon_without_web_does_not_import_the_web_stack(tmp_path):
    import subprocess
    import sys

    (tmp_path / "config.yaml").write_text(isolated_yaml(tmp_path))
    code = (
        "import sys; from photod.config import load_config; from photod.service.daemon import "
        f"Daemon; c = load_config(__import__('pathlib').Path({str(tmp_path / 'config.yaml')!r}),"
        " environ={}); d = Daemon(lambda: c); d.start(c); d.shutdown(); "
        "print(sorted(m for m in sys.modules if m.startswith(('photod.web', 'starlette', "
        "'uvicorn'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_photod_serve_command_serves_until_interrupted(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    port = free_port()
    (tmp_path / "config.yaml").write_text(isolated_yaml(tmp_path))
    cmd = [sys.executable, "-m", "photod", "--config", str(tmp_path / "config.yaml")]
    proc = subprocess.Popen([*cmd, "serve", "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/status")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "photod serve did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and "Status" in r.text
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert f"photod web app on http://127.0.0.1:{port}/" in err
    assert proc.returncode == 0
