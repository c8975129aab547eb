"""Library pages: the grid (search, infinite scroll), one photo, and the image files."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from photod.index import browse
from photod.search.query import QueryError
from photod.web.images import OutsideLibrary
from photod.web.queries import search

if TYPE_CHECKING:
    from photod.web.server import WebContext

# Cached renditions never change for a content hash (the URL carries it): cache for a day.
IMAGE_HEADERS = {"Cache-Control": "private, max-age=86400"}


def routes(ctx: WebContext) -> list[Route]:
    """The library's routes."""
    index = ctx.app.index

    def page(request: Request) -> tuple[str, list, int | None, str | None]:
        q = request.query_params.get("q", "").strip()
        try:
            offset = max(0, int(request.query_params.get("offset", 0)))
        except ValueError:
            offset = 0
        try:
            photos = search(index, ctx.search_engine, q, ctx.cfg.page_size, offset)
        except QueryError as exc:
            return q, [], None, str(exc)
        more = offset + ctx.cfg.page_size if len(photos) == ctx.cfg.page_size else None
        return q, photos, more, None

    async def library(request: Request) -> Response:
        q, photos, more, error = await asyncio.to_thread(page, request)
        chips = await asyncio.to_thread(index.concepts.all)
        return ctx.render(
            request,
            "library.html",
            status=400 if error else 200,
            q=q,
            photos=photos,
            more=more,
            chips=chips,
            facets=ctx.facets,
            error=error,
        )

    async def grid(request: Request) -> Response:
        q, photos, more, _ = await asyncio.to_thread(page, request)
        return ctx.render(request, "_grid.html", q=q, photos=photos, more=more)

    async def photo(request: Request) -> Response:
        photo_id = request.path_params["id"]
        detail = await asyncio.to_thread(index.read, lambda db: browse.photo_detail(db, photo_id))
        if detail is None:
            return ctx.render(request, "missing.html", status=404, what=f"photo {photo_id}")
        concepts = await asyncio.to_thread(index.concepts.all)
        return ctx.render(request, "photo.html", p=detail, concepts=concepts)

    async def boxes_css(request: Request) -> Response:
        # Box positions as a stylesheet: the CSP allows no inline style or script.
        photo_id = request.path_params["id"]
        detail = await asyncio.to_thread(index.read, lambda db: browse.photo_detail(db, photo_id))
        rules = [
            f".box-{i}{{left:{b.x * 100:.2f}%;top:{b.y * 100:.2f}%;"
            f"width:{b.w * 100:.2f}%;height:{b.h * 100:.2f}%}}"
            for i, b in enumerate(detail.boxes if detail else [])
        ]
        return PlainTextResponse("\n".join(rules) + "\n", media_type="text/css")

    async def image(request: Request) -> Response:
        photo_id, size = request.path_params["id"], request.path_params["size"]
        if size not in ("s", "l", "original"):
            return PlainTextResponse("no such size", 404)
        found = await asyncio.to_thread(index.read, lambda db: browse.photo_file(db, photo_id))
        if found is None or found[1] is None:
            return PlainTextResponse("no such photo", 404)
        path, content_hash = found
        try:
            if size == "original":
                file = await asyncio.to_thread(ctx.images.original, path)
                return FileResponse(file, headers={"Content-Disposition": "inline"})
            file = await asyncio.to_thread(
                ctx.images.thumbnail, path, content_hash, large=size == "l"
            )
        except OutsideLibrary:
            return PlainTextResponse("this photo is not inside the library folders", 403)
        except OSError:
            return PlainTextResponse("this photo cannot be read now", 404)
        return FileResponse(file, media_type="image/jpeg", headers=IMAGE_HEADERS)

    async def face(request: Request) -> Response:
        face_id = request.path_params["id"]
        found = await asyncio.to_thread(index.read, lambda db: browse.face_file(db, face_id))
        if found is None or found[2] is None:
            return PlainTextResponse("no such face", 404)
        _, path, content_hash, box = found
        try:
            file = await asyncio.to_thread(ctx.images.face, path, content_hash, box)
        except OutsideLibrary:
            return PlainTextResponse("this photo is not inside the library folders", 403)
        except OSError:
            return PlainTextResponse("this photo cannot be read now", 404)
        return FileResponse(file, media_type="image/jpeg", headers=IMAGE_HEADERS)

    return [
        Route("/", library),
        Route("/grid", grid),
        Route("/photo/{id:int}", photo),
        Route("/photo/{id:int}/boxes.css", boxes_css),
        Route("/image/{id:int}/{size}", image),
        Route("/face/{id:int}.jpg", face),
    ]
