"""Security of the web app over real HTTP: files by id only, CSRF, login, headers, binding."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from web_fixtures import csrf_of, web_client

from photod.cli import cli
from photod.config import WebConfig
from photod.errors import ConfigError
from photod.web.security import check_bind, hash_password

SECRET = "root:x:0:0"  # what /etc/passwd would show


@pytest.mark.parametrize(
    "url",
    [
        "/image/../../../../etc/passwd",
        "/image/%2e%2e/%2e%2e/etc/passwd",
        "/image/%2e%2e%2f%2e%2e%2fetc%2fpasswd/s",
        "/image//etc/passwd/s",
        "/image/1/..%2f..%2f..%2fetc%2fpasswd",
        "/image/-1/original",
        "/face/%2fetc%2fpasswd.jpg",
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2fsecurity.py",
        "/static/%2fetc%2fpasswd",
        "/photo/1/../../../../etc/passwd",
        "/image/1/original?path=/etc/passwd",
    ],
)
def test_no_request_reads_a_file_by_its_path(shared_library, url):
    with web_client(shared_library) as client:
        r = client.get(url)
    assert SECRET not in r.text and "def check_bind" not in r.text
    if "original?path" in url:
        # The query is ignored: photo 1's own file, from the index.
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    else:
        assert r.status_code == 404


def test_a_symlink_out_of_the_library_is_refused(library, tmp_path):
    outside = tmp_path / "outside.png"
    Image.new("RGB", (64, 64), (255, 0, 0)).save(outside)
    photo_id = library.app.index.photos.id_of(library.plain)
    os.unlink(library.plain)
    os.symlink(outside, library.plain)  # the indexed path now leads out of the library
    with web_client(library) as client:
        for size in ("original", "s", "l"):
            r = client.get(f"/image/{photo_id}/{size}")
            assert r.status_code == 403, size
            assert "not inside the library" in r.text


def test_every_post_needs_the_csrf_token(library):
    with web_client(library) as client:
        token = csrf_of(client)
        posts = [
            re.sub(r"\{(\w+)(:\w+)?\}", "1", r.path)
            for r in client.app.routes
            if "POST" in (getattr(r, "methods", None) or ())
        ]
        assert len(posts) == 11
        for path in posts:
            assert client.post(path).status_code == 403, path
            assert client.post(path, headers={"X-CSRF-Token": "forged"}).status_code == 403
        # With the page's token the action runs (and answers for itself).
        r = client.post("/faces/999/name", data={"name": "Bob"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 200
        assert "no cluster 999; see `photod faces clusters`" in r.text


def test_security_headers_and_no_inline_script_or_style(shared_library):
    photo_id = shared_library.app.index.photos.id_of(shared_library.both)
    with web_client(shared_library) as client:
        for url in (
            "/",
            f"/photo/{photo_id}",
            "/concepts",
            "/concepts/Eileen",
            "/faces",
            "/status",
        ):
            r = client.get(url)
            assert r.status_code == 200, url
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe" not in csp
            assert "frame-ancestors 'none'" in csp
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "no-referrer"
            assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), url
            assert not re.search(r"\sstyle=|\son[a-z]+=", r.text), url


def test_loopback_app_answers_only_to_loopback_host_names(shared_library):
    with web_client(shared_library) as client:
        assert client.get("/", headers={"host": "localhost:8180"}).status_code == 200
        r = client.get("/", headers={"host": "attacker.example"})
        assert r.status_code == 403  # DNS rebinding: a foreign name is refused


def test_password_login_with_a_strict_httponly_session_cookie(shared_library):
    hashed = hash_password("correct horse")
    with web_client(shared_library, password_hash=hashed) as client:
        r = client.get("/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert client.get("/image/1/s", follow_redirects=False).status_code == 303
        assert client.get("/grid", headers={"HX-Request": "true"}).status_code == 401
        token = csrf_of_login(client)
        r = client.post("/login", data={"password": "wrong"}, headers={"X-CSRF-Token": token})
        assert "wrong password" in r.text
        r = client.post(
            "/login", data={"password": "correct horse"}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 204 and r.headers["hx-location"] == "/"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        assert client.get("/").status_code == 200
        assert client.get("/image/1/s").status_code == 200
    # Behind TLS (secure_cookies), the cookie is only ever sent over HTTPS.
    with web_client(shared_library, password_hash=hashed, secure_cookies=True) as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def csrf_of_login(client) -> str:
    html = client.get("/login").text
    return re.search(r'"X-CSRF-Token": "([^"]+)"', html).group(1)


def test_any_other_address_needs_a_password():
    for host in ("0.0.0.0", "192.168.1.20", "::", "photos.example"):
        with pytest.raises(ConfigError, match="needs web.password_hash"):
            check_bind(WebConfig(host=host))
        check_bind(WebConfig(host=host, password_hash=hash_password("long enough")))
    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(WebConfig(host=host))


def test_serve_on_0000_without_password_is_refused_in_one_line(tmp_path: Path):
    from conftest_yaml import isolated_yaml

    cfg = tmp_path / "config.yaml"
    cfg.write_text(isolated_yaml(tmp_path))
    r = CliRunner().invoke(cli, ["--config", str(cfg), "serve", "--host", "0.0.0.0"])
    assert r.exit_code == 78
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "web.host is 0.0.0.0" in lines[0]
    assert "--set-password" in lines[0]


def test_set_password_prints_an_argon2_hash(tmp_path: Path):
    r = CliRunner().invoke(cli, ["serve", "--set-password"], input="s3cret pass\ns3cret pass\n")
    assert r.exit_code == 0
    hashed = re.search(r"password_hash: '([^']+)'", r.output).group(1)
    assert hashed.startswith("$argon2id$")
    from photod.web.security import verify_password

    assert verify_password(hashed, "s3cret pass") and not verify_password(hashed, "other")
    short = CliRunner().invoke(cli, ["serve", "--set-password"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
