"""The web app's factory and its server: ``create_web_app(app, cfg)`` and :class:`WebServer`.

The app gets the one wired :class:`~photod.app.App` (its index and its single writer, the
concept catalog, the features) from its caller, ``photod serve`` or the daemon: it never opens
a second index writer of its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from photod.config import WebConfig
from photod.search.engine import SearchEngine
from photod.search.semantic import ClipRanker
from photod.web import security
from photod.web.images import ImageCache

if TYPE_CHECKING:
    from photod.app import App

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SWEEP_SECONDS = 3600.0  # how often thumbnails of removed photos are deleted
# How often the library page's year/folder/place chips are recounted: counting scans every
# photo (about 0.4 s at 100,000), so it runs beside the pages, never inside one.
FACETS_SECONDS = 300.0


@dataclass
class WebContext:
    """What every page handler needs: the wired photod, the web settings, the caches."""

    app: App
    cfg: WebConfig
    images: ImageCache
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(HERE / "templates"))
    )
    facets: list = field(default_factory=list)  # the library's chips, recounted in the background

    @cached_property
    def search_engine(self) -> SearchEngine:
        """The search engine of ``photod search``, semantic ranking included when CLIP is on."""
        config = self.app.config
        ranker = ClipRanker.create(config.clip, self.app.index, self.app.features.clip)
        return SearchEngine(self.app.index, ranker)

    def render(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        """A template with what every page shows: the CSRF token, a message, the login."""
        session = request.session
        values.update(
            csrf=security.csrf_token(session),
            flash=session.pop("flash", None),
            logged_in=bool(session.get("user")),
            password=bool(self.cfg.password_hash),
        )
        return self.templates.TemplateResponse(request, name, values, status_code=status)

    def done(self, request: Request, message: str, to: str | None = None) -> Response:
        """After an action: show ``message`` on the page htmx reloads (or opens)."""
        request.session["flash"] = message
        headers = {"HX-Location": to} if to else {"HX-Refresh": "true"}
        return Response(status_code=204, headers=headers)

    def refused(self, message: str) -> Response:
        """An action refused: its one-line reason replaces the page's message area."""
        return HTMLResponse(
            self.templates.get_template("_flash.html").render(flash=message, error=True),
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )


def create_web_app(app: App, cfg: WebConfig) -> Starlette:
    """The web app over ``app``'s index and concept store (see docs/web.md)."""
    from photod.web import library, status, teaching

    config = app.config
    images = ImageCache(
        config.paths.cache_dir, config.library.roots, cfg.thumbnail_size, cfg.thumbnail_quality
    )
    ctx = WebContext(app, cfg, images)
    routes = [
        *library.routes(ctx),
        *teaching.routes(ctx),
        *status.routes(ctx),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(security.HeadersMiddleware),
        Middleware(
            SessionMiddleware,
            secret_key=security.session_secret(config.paths.state_dir),
            session_cookie="photod_session",
            same_site="strict",
            https_only=cfg.secure_cookies,
        ),
        Middleware(security.GuardMiddleware, cfg=cfg),
    ]

    async def sweep_loop() -> None:
        while True:
            await asyncio.to_thread(sweep_thumbnails, ctx)
            await asyncio.sleep(SWEEP_SECONDS)

    async def facets_loop() -> None:
        while True:
            await asyncio.sleep(FACETS_SECONDS)
            await asyncio.to_thread(count_facets, ctx)

    @asynccontextmanager
    async def lifespan(_: Starlette):
        await asyncio.to_thread(count_facets, ctx)  # once before serving: the first page has them
        tasks = [asyncio.create_task(sweep_loop()), asyncio.create_task(facets_loop())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()

    web = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    web.state.ctx = ctx
    return web


def count_facets(ctx: WebContext) -> None:
    """Recount the years, folders and places of the library page's chips."""
    from photod.index import browse

    ctx.facets = ctx.app.index.read(browse.facets)


def sweep_thumbnails(ctx: WebContext) -> int:
    """Remove the cached renditions of photos that left the index."""
    from photod.index import browse

    return ctx.images.sweep(ctx.app.index.read(browse.present_hashes))


class WebServer:
    """uvicorn serving the web app in a background thread (the daemon's ``web.enabled``)."""

    def __init__(self, app: App, cfg: WebConfig) -> None:
        import uvicorn

        security.check_bind(cfg)
        config = uvicorn.Config(
            create_web_app(app, cfg),
            host=cfg.host,
            port=cfg.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            # Open event streams (the status page) must not hold a stop or a reload up.
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="photod-web", daemon=True)

    def start(self) -> WebServer:
        """Serve in the background; return once it listens (or raise why it cannot)."""
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise OSError(f"the web app could not listen on {self.url}")
            self._thread.join(0.05)
        log.info("web app on %s", self.url)
        return self

    @property
    def url(self) -> str:
        """Where it listens."""
        c = self.server.config
        host = f"[{c.host}]" if ":" in c.host else c.host
        return f"http://{host}:{c.port}/"

    def stop(self) -> None:
        """Finish the requests in progress and stop."""
        self.server.should_exit = True
        self._thread.join(timeout=10)
