"""The status page (live through server-sent events) and logging in and out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from photod.humantime import moment
from photod.web import security

if TYPE_CHECKING:
    from photod.web.server import WebContext

EVENT_SECONDS = 2.0  # how often the status page is refreshed


def routes(ctx: WebContext) -> list[Route]:
    """Status, its event stream, login and logout."""
    index = ctx.app.index

    def snapshot() -> dict:
        info = index.meta.status()
        info["failure_list"] = index.photos.failures(limit=50)
        return info

    async def status(request: Request) -> Response:
        info = await asyncio.to_thread(snapshot)
        return ctx.render(request, "status.html", s=info, moment=moment)

    async def events(request: Request) -> Response:
        fragment = ctx.templates.get_template("_status.html")

        async def stream() -> AsyncIterator[str]:
            while not await request.is_disconnected():
                info = await asyncio.to_thread(snapshot)
                html = fragment.render(s=info, moment=moment)
                data = "".join(f"data: {line}\n" for line in html.splitlines())
                yield f"event: status\n{data}\n"
                await asyncio.sleep(EVENT_SECONDS)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return ctx.render(request, "login.html")
        form = await request.form()
        password = str(form.get("password", ""))
        ok = bool(ctx.cfg.password_hash) and await asyncio.to_thread(
            security.verify_password, ctx.cfg.password_hash, password
        )
        if not ok:
            return ctx.refused("wrong password")
        request.session.clear()  # a fresh session (and CSRF token) after logging in
        request.session["user"] = True
        return Response(status_code=204, headers={"HX-Location": "/"})

    async def logout(request: Request) -> Response:
        request.session.clear()
        return Response(status_code=204, headers={"HX-Redirect": "/login"})

    return [
        Route("/status", status),
        Route("/status/events", events),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
