"""The web app's security: who may bind where, passwords, sessions, CSRF, headers.

- Loopback by default; any other address needs ``web.password_hash`` (argon2) or photod
  refuses to start (a configuration error, exit status 78).
- With a password, every page but the login page needs a signed session cookie (HttpOnly,
  SameSite=Strict, Secure behind TLS); without one (loopback only) the Host header must name
  the loopback, so that a web page elsewhere cannot reach the app by DNS rebinding.
- Every state-changing request carries the session's CSRF token in ``X-CSRF-Token`` (htmx
  sends it from the page's ``hx-headers``); without it the answer is 403.
- Every response carries a CSP without inline scripts, nosniff, frame denial, no referrer.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from photod.config import WebConfig
from photod.errors import ConfigError

CSRF_HEADER = "x-csrf-token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
# Pages reachable without logging in (the login form and what it needs to render).
PUBLIC_PREFIXES = ("/login", "/static/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only reaches this machine."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def check_bind(cfg: WebConfig) -> None:
    """Refuse to serve beyond this machine without a password (one-line reason)."""
    if not is_loopback(cfg.host) and not cfg.password_hash:
        raise ConfigError(
            f"web.host is {cfg.host}: serving beyond this machine needs web.password_hash; "
            "make one with `photod serve --set-password`, or use host 127.0.0.1"
        )


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for ``web.password_hash``."""
    from argon2 import PasswordHasher

    if len(password) < 8:
        raise ValueError("use a password of at least 8 characters")
    return PasswordHasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches the stored argon2 hash."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def session_secret(state_dir: Path) -> str:
    """The key that signs session cookies: made once, kept owner-only in the state folder,
    so that sessions survive a restart."""
    path = state_dir / "web-session-key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def csrf_token(session: dict) -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(session: dict, headers: Headers) -> bool:
    """Whether the request carries the session's CSRF token."""
    expected = session.get("csrf")
    sent = headers.get(CSRF_HEADER, "")
    return bool(expected) and hmac.compare_digest(expected, sent)


class HeadersMiddleware:
    """Adds the security headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class GuardMiddleware:
    """Login (when a password is set), the loopback Host check (when not), and CSRF.

    Runs inside the session middleware, so ``scope["session"]`` is there."""

    def __init__(self, app: ASGIApp, cfg: WebConfig) -> None:
        self.app = app
        self.cfg = cfg

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        session = scope["session"]
        path = scope["path"]
        if not self.cfg.password_hash:
            host = headers.get("host", "")
            host = host[: host.find("]") + 1] if host.startswith("[") else host.split(":")[0]
            if host not in LOOPBACK_NAMES:
                return PlainTextResponse("photod: this app answers on the loopback only", 403)
        elif not session.get("user") and not path.startswith(PUBLIC_PREFIXES):
            if scope["method"] in SAFE_METHODS and not headers.get("hx-request"):
                return RedirectResponse("/login", 303)
            return PlainTextResponse("photod: log in first", 401, headers={"HX-Redirect": "/login"})
        if scope["method"] not in SAFE_METHODS and not csrf_ok(session, headers):
            return PlainTextResponse("photod: missing or wrong CSRF token; reload the page", 403)
        return None
