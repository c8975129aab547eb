"""Teaching pages: people, pets and objects; unnamed faces; the corrections on a photo.

Every action goes through :mod:`photod.concepts.teach`, as the CLI's do: the same index
writer, the same validation, the same messages.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from photod.concepts import teach
from photod.humantime import relative
from photod.index import browse
from photod.index.concepts import ConceptError

if TYPE_CHECKING:
    from photod.web.server import WebContext


def routes(ctx: WebContext) -> list[Route]:
    """The teaching routes (POSTs need the CSRF token, checked before they run)."""
    index = ctx.app.index
    cfg = ctx.app.config.concepts

    async def act(request: Request, work, *, to: str | None = None) -> Response:
        """Run ``work(form)`` off the event loop; its message (or refusal) goes to the page."""
        form = await request.form()
        try:
            message = await asyncio.to_thread(work, form)
        except ConceptError as exc:
            return ctx.refused(str(exc))
        return ctx.done(request, message, to)

    # -- concepts ------------------------------------------------------------------------
    async def concepts(request: Request) -> Response:
        cards = await asyncio.to_thread(index.read, browse.concept_cards)
        jobs = {j["concept"]: j for j in await asyncio.to_thread(index.training.status)}
        return ctx.render(request, "concepts.html", cards=cards, jobs=jobs, relative=relative)

    async def concept(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            c = await asyncio.to_thread(index.concepts.require, name)
        except ConceptError as exc:
            return ctx.render(request, "missing.html", status=404, what=str(exc))
        examples = await asyncio.to_thread(index.concepts.examples, c.id)
        ids = await asyncio.to_thread(
            index.read, lambda db: browse.photo_ids_by_path(db, [e.path for e in examples])
        )
        photo_ids = await asyncio.to_thread(
            index.read, lambda db: browse.concept_photo_ids(db, c.name, ctx.cfg.page_size)
        )
        photos = await asyncio.to_thread(index.read, lambda db: browse.grid_photos(db, photo_ids))
        return ctx.render(
            request, "concept.html", c=c, examples=examples, example_ids=ids, photos=photos
        )

    async def remove_example(request: Request) -> Response:
        name = request.path_params["name"]

        def work(form) -> str:
            c = index.concepts.require(name)
            n = teach.remove_examples(index, c, [str(form.get("path", ""))], cfg)
            if not n:
                raise ConceptError(f"that photo is not an example of {c.name}")
            return f"{c.name}: example removed; retraining scheduled."

        return await act(request, work)

    async def retrain(request: Request) -> Response:
        name = request.path_params["name"]

        def work(form) -> str:
            c = index.concepts.require(name)
            teach.train_soon(index, c)
            return f"{c.name}: training queued now (photod run trains it)."

        return await act(request, work)

    # -- a photo's corrections -----------------------------------------------------------
    async def not_this(request: Request) -> Response:
        photo_id = request.path_params["id"]

        def work(form) -> str:
            name = str(form.get("concept", ""))
            dropped, removed = teach.not_this(index, photo_id, name, cfg)
            extra = "; removed from its examples, retraining scheduled" if removed else ""
            return f"not {name}: {dropped} detection(s) removed{extra}."

        return await act(request, work)

    async def add_example(request: Request) -> Response:
        photo_id = request.path_params["id"]

        def work(form) -> str:
            c = index.concepts.require(str(form.get("concept", "")))
            found = index.read(lambda db: browse.photo_file(db, photo_id))
            if found is None:
                raise ConceptError(f"no photo {photo_id}")
            due = teach.add_examples(index, c, [found[0]], cfg, source="web")
            return f"{c.name}: 1 example(s) added; retraining {relative(due)}."

        return await act(request, work)

    async def face_is(request: Request) -> Response:
        face_id = request.path_params["id"]

        def work(form) -> str:
            c, due = teach.face_is(index, face_id, str(form.get("name", "")), cfg)
            return f"{c.name}: this face added as an example; retraining {relative(due)}."

        return await act(request, work)

    async def not_a_face(request: Request) -> Response:
        face_id = request.path_params["id"]

        def work(form) -> str:
            teach.not_a_face(index, face_id)
            return "marked as not a face: it will not be clustered or named."

        return await act(request, work)

    # -- unnamed faces ---------------------------------------------------------------------
    async def faces(request: Request) -> Response:
        def load() -> dict[int, list[tuple[int, int]]]:
            teach.refresh_clusters(index, ctx.app.features, cfg)
            return index.read(browse.cluster_faces)

        clusters = await asyncio.to_thread(load)
        big = {c: f for c, f in clusters.items() if len(f) >= cfg.min_cluster_size}
        order = sorted(big, key=lambda c: (-len(big[c]), c))
        return ctx.render(request, "faces.html", clusters=big, order=order)

    async def name_cluster(request: Request) -> Response:
        cluster = request.path_params["cluster"]

        def work(form) -> str:
            c, n = teach.name_cluster(index, cluster, str(form.get("name", "")), cfg)
            return f"{c.name}: {n} face(s) added as examples; retraining scheduled."

        name = str((await request.form()).get("name", "")).strip()
        return await act(request, work, to=f"/concepts/{quote(name)}")

    async def merge(request: Request) -> Response:
        cluster = request.path_params["cluster"]

        def work(form) -> str:
            try:
                target = int(str(form.get("into", "")))
            except ValueError:
                raise ConceptError("merge into which group? give its number") from None
            n = index.write(lambda db: browse.merge_clusters(db, cluster, target))
            if not n:
                raise ConceptError(f"no group {cluster}")
            return f"group {cluster} merged into group {target} ({n} face(s))."

        return await act(request, work)

    async def split(request: Request) -> Response:
        face_id = request.path_params["id"]

        def work(form) -> str:
            new = index.write(lambda db: browse.split_face(db, face_id))
            if new is None:
                raise ConceptError(f"face {face_id} is in no group")
            return f"face {face_id} split off into group {new}."

        return await act(request, work)

    return [
        Route("/concepts", concepts),
        Route("/concepts/{name}", concept),
        Route("/concepts/{name}/examples/remove", remove_example, methods=["POST"]),
        Route("/concepts/{name}/retrain", retrain, methods=["POST"]),
        Route("/photo/{id:int}/not", not_this, methods=["POST"]),
        Route("/photo/{id:int}/example", add_example, methods=["POST"]),
        Route("/face/{id:int}/name", face_is, methods=["POST"]),
        Route("/face/{id:int}/not-a-face", not_a_face, methods=["POST"]),
        Route("/face/{id:int}/split", split, methods=["POST"]),
        Route("/faces", faces),
        Route("/faces/{cluster:int}/name", name_cluster, methods=["POST"]),
        Route("/faces/{cluster:int}/merge", merge, methods=["POST"]),
    ]
