"""The web app's pages and actions over real HTTP on a real index built by the pipeline."""

from __future__ import annotations

import re
from html import unescape

from PIL import Image
from web_fixtures import csrf_of, run_queue, web_client

from photod.index import browse, jobs
from photod.index import concepts as store
from photod.index import photos as photo_rows
from photod.search.engine import SearchEngine
from photod.web.queries import search
from photod.web.server import sweep_thumbnails


def _tiles(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="tile" href="/photo/(\d+)"', html)]


def _ids(lib, paths) -> set[int]:
    return {lib.app.index.photos.id_of(p) for p in paths}


def test_library_grid_and_search_by_person(shared_library):
    lib = shared_library
    everything = _ids(lib, [*lib.eileen, *lib.strangers, lib.both, lib.plain])
    with web_client(lib) as client:
        r = client.get("/")
        assert set(_tiles(r.text)) == everything
        assert 'loading="lazy"' in r.text and 'class="chip kind-person"' in r.text
        r = client.get("/", params={"q": "person:Eileen"})
        assert set(_tiles(r.text)) == _ids(lib, [*lib.eileen, lib.both])
        # Names and words together: Eileen's photos that the sharpness plugin tagged blurry.
        found = SearchEngine(lib.app.index).search("tag:blurry", limit=100).results
        blurry = {r.photo_id for r in found}
        both_ways = set(_tiles(client.get("/", params={"q": "person:eileen blurry"}).text))
        assert both_ways == _ids(lib, [*lib.eileen, lib.both]) & blurry
        r = client.get("/", params={"q": "person:Eileen -person:Eileen"})
        assert _tiles(r.text) == [] and "No photos match" in r.text
        # A malformed query says what is wrong, as `photod search` does.
        r = client.get("/", params={"q": "person:Nobody"})
        assert r.status_code == 400 and _tiles(r.text) == []
        assert "Bad query: " in r.text and "Nobody" in unescape(r.text)


def test_folder_chips_search_their_folder(shared_library):
    lib = shared_library
    with web_client(lib) as client:
        html = unescape(client.get("/").text)
        chips = dict(re.findall(r'class="chip kind-folder" href="([^"]+)"[^>]*>([^<]+)<', html))
        by_label = {label: href for href, label in chips.items()}
        assert {"2024", "2023"} <= set(by_label)
        r = client.get(by_label["2023"])
        assert set(_tiles(r.text)) == _ids(lib, lib.strangers)


def test_grid_pages_load_more_as_you_scroll(shared_library):
    lib = shared_library
    with web_client(lib, page_size=3) as client:
        first = client.get("/")
        assert len(_tiles(first.text)) == 3
        more = re.search(r'hx-get="(/grid\?q=&amp;offset=3)" hx-trigger="revealed"', first.text)
        assert more
        seen = _tiles(first.text)
        url = more.group(1).replace("&amp;", "&")
        while url:
            r = client.get(url, headers={"HX-Request": "true"})
            assert "<html" not in r.text  # a fragment, appended in place of the sentinel
            seen += _tiles(r.text)
            m = re.search(r'hx-get="([^"]+)" hx-trigger="revealed"', r.text)
            url = m.group(1).replace("&amp;", "&") if m else None
    assert len(seen) == len(set(seen)) == 7
    # The same order as the query layer's pages: newest first.
    assert seen == [p.id for p in search(lib.app.index, SearchEngine(lib.app.index), "", 100)]


def test_photo_page_draws_each_face_with_name_and_score(shared_library):
    lib = shared_library
    photo_id = lib.app.index.photos.id_of(lib.both)
    with web_client(lib) as client:
        html = client.get(f"/photo/{photo_id}").text
        css = client.get(f"/photo/{photo_id}/boxes.css")
    assert css.headers["content-type"].startswith("text/css")
    labels = re.findall(r'class="box box-(\d) kind-(\w+)" data-label="([^"]+)"', html)
    assert [(kind, label) for _, kind, label in labels] == [
        ("person", "Eileen"),
        ("face", "unnamed face"),
    ]
    detail = lib.app.index.read(lambda db: browse.photo_detail(db, photo_id))
    eileen = detail.boxes[0]
    assert eileen.x > 0.5 and eileen.version == 1 and eileen.model.startswith("face-keys")
    rule = f".box-0{{left:{eileen.x * 100:.2f}%;top:{eileen.y * 100:.2f}%;"
    assert rule in css.text
    assert re.search(r"Eileen 0\.\d\d", html) and "This is not Eileen" in html
    assert "Not a face" in html and "This face is" in html


def test_thumbnails_are_made_once_oriented_and_removed_with_the_photo(library):
    lib = library
    # A landscape JPEG stored sideways: EXIF orientation 6 means "rotate to portrait".
    sideways = lib.root / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (400, 200), (10, 120, 200)).save(sideways, exif=exif.tobytes())
    lib.app.index.jobs.enqueue("index", str(sideways))
    run_queue(lib.app, listeners=True)
    photo_id = lib.app.index.photos.id_of(sideways)
    with web_client(lib) as client:
        ctx = client.app.state.ctx
        first = client.get(f"/image/{photo_id}/s")
        again = client.get(f"/image/{photo_id}/s")
        assert first.content == again.content
        assert (ctx.images.misses, ctx.images.hits) == (1, 1)
        thumb = next((ctx.images.dir / "320").glob("*/*.jpg"))
        with Image.open(thumb) as img:
            assert img.size == (160, 320)  # portrait, longest side = thumbnail_size
        sideways.unlink()
        lib.app.index.write(lambda db: photo_rows.mark_missing(db, str(sideways)))
        assert lib.app.index.photos.purge_missing() == 1
        assert sweep_thumbnails(ctx) == 1
        assert not thumb.exists()
        assert client.get(f"/image/{photo_id}/s").status_code == 404


def test_name_a_cluster_then_find_its_photos_under_the_name(library):
    lib = library
    with web_client(lib) as client:
        token = {"X-CSRF-Token": csrf_of(client)}
        html = client.get("/faces").text
        [cluster] = re.findall(r'hx-post="/faces/(\d+)/name"', html)
        faces = re.findall(r'src="/face/(\d+)\.jpg"', html)
        assert len(faces) == 4  # the cameraman's three photos and the one with both
        r = client.post(f"/faces/{cluster}/name", data={"name": "Bob"}, headers=token)
        assert r.status_code == 204 and r.headers["hx-location"] == "/concepts/Bob"
        page = client.get("/concepts/Bob").text
        assert "Bob: 4 face(s) added as examples; retraining scheduled." in page
        assert page.count("/examples/remove") == 4
        # "Retrain now" queues the training; the daemon trains it and re-runs the photos.
        r = client.post("/concepts/Bob/retrain", headers=token)
        assert r.status_code == 204
        bob = lib.app.index.concepts.require("Bob")
        due = dict(lib.app.index.training.queued())[bob.id]
        assert due <= __import__("time").time()
        lib.app.trainer.train(bob.id)
        run_queue(lib.app, listeners=True)
        r = client.get("/", params={"q": "person:Bob"})
        assert set(_tiles(r.text)) == _ids(lib, [*lib.strangers, lib.both])
        assert "no groups" in client.get("/faces").text.lower()


def test_not_a_face_becomes_a_negative_never_a_person(library):
    lib = library
    photo_id = lib.app.index.photos.id_of(lib.strangers[0])
    [face] = [b for b in lib.app.index.read(lambda db: browse.photo_detail(db, photo_id)).boxes]
    with web_client(lib) as client:
        token = {"X-CSRF-Token": csrf_of(client)}
        r = client.post(f"/face/{face.face_id}/not-a-face", headers=token)
        assert r.status_code == 204
        assert "not a face" in client.get(f"/photo/{photo_id}").text
        # Re-running the photo finds the same face again; it stays out.
        lib.app.index.write(
            lambda db: jobs.enqueue(db, jobs.INDEX, lib.strangers[0], {"force": True})
        )
        run_queue(lib.app, listeners=True)
        detail = lib.app.index.read(lambda db: browse.photo_detail(db, photo_id))
        assert detail.boxes == []
        faces = client.get("/faces").text
        assert len(re.findall(r'src="/face/(\d+)\.jpg"', faces)) == 3
        # A face that is gone cannot be named: the refusal is shown, nothing changes.
        r = client.post(f"/face/{face.face_id}/name", data={"name": "Bob"}, headers=token)
        assert "no face" in r.text and r.headers["hx-retarget"] == "#flash"
        assert lib.app.index.concepts.find("Bob") is None


def test_corrections_on_a_photo(library):
    lib = library
    both = lib.app.index.photos.id_of(lib.both)
    detail = lib.app.index.read(lambda db: browse.photo_detail(db, both))
    stranger_face = next(b.face_id for b in detail.boxes if b.kind == "face")
    with web_client(lib) as client:
        token = {"X-CSRF-Token": csrf_of(client)}
        r = client.post(f"/face/{stranger_face}/name", data={"name": "Bob"}, headers=token)
        assert r.status_code == 204
        [example] = lib.app.index.concepts.examples(lib.app.index.concepts.require("Bob").id)
        assert example.path == lib.both and example.face_box[0] < 0.5 and example.source == "web"
        r = client.post(f"/photo/{both}/not", data={"concept": "Eileen"}, headers=token)
        assert r.status_code == 204
        page = client.get(f"/photo/{both}").text
        assert "not Eileen: 1 detection(s) removed." in page and "This is not Eileen" not in page
        # The photo was queued once more: the re-run's heads do not name her there again.
        assert run_queue(lib.app, listeners=True) >= 1
        again = lib.app.index.read(lambda db: browse.photo_detail(db, both))
        assert "Eileen" not in {b.concept for b in again.boxes}
        found = SearchEngine(lib.app.index).search("person:Eileen", limit=50).results
        assert both not in {r.photo_id for r in found} and found
        plain = lib.app.index.photos.id_of(lib.plain)
        r = client.post(f"/photo/{plain}/example", data={"concept": "Eileen"}, headers=token)
        assert r.status_code == 204
        paths = [e.path for e in lib.app.index.concepts.examples(1)]
        assert lib.plain in paths
        r = client.post(f"/photo/{plain}/example", data={"concept": "Nobody"}, headers=token)
        assert "no concept named 'Nobody' (known: Bob, Eileen)" in unescape(r.text)


def test_concepts_page_shows_cover_count_quality_and_examples(shared_library):
    lib = shared_library
    with web_client(lib) as client:
        html = client.get("/concepts").text
        assert "person (woman) · 3 photos" in html and "version 1, trained" in html
        assert "leave-one-out recall 1.00" in html
        assert re.search(r'<img src="/face/\d+\.jpg" alt="Eileen"', html)
        page = client.get("/concepts/Eileen").text
        assert page.count("/examples/remove") == 4 and "outside the library" in page
        assert client.get("/concepts/Nobody").status_code == 404


def test_status_page_and_its_live_events(shared_library):
    with web_client(shared_library) as client:
        html = client.get("/status").text
        assert 'sse-connect="/status/events"' in html and "7 indexed" in html
        with client.stream("GET", "/status/events") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = []
            for line in r.iter_lines():
                lines.append(line)
                if line == "" and len(lines) > 1:
                    break
    assert lines[0] == "event: status"
    assert any("7 indexed" in x for x in lines if x.startswith("data: "))


def test_photo_page_draws_pet_and_object_boxes_with_their_source(library):
    lib = library
    photo_id = lib.app.index.photos.id_of(lib.plain)

    def found(db):
        rex = store.add_concept(db, "Rex", kind="pet", class_word="dog")
        mug = store.add_concept(db, "my mug", kind="object", class_word="mug")
        rows = [(rex.id, (0.1, 0.5, 0.3, 0.4), "head"), (mug.id, (0.6, 0.1, 0.2, 0.25), "vlm")]
        for concept_id, (x, y, w, h), source in rows:
            db["detections"].insert(
                {"photo_id": photo_id, "concept_id": concept_id, "score": 0.9,
                 "head_model": "test", "concept_version": 1,
                 "x": x, "y": y, "w": w, "h": h, "box_source": source}
            )  # fmt: skip

    lib.app.index.write(found)
    with web_client(lib) as client:
        html = client.get(f"/photo/{photo_id}").text
        css = client.get(f"/photo/{photo_id}/boxes.css").text
    labels = re.findall(r'class="box box-(\d) kind-(\w+)" data-label="([^"]+)"', html)
    assert [(kind, label) for _, kind, label in labels] == [("pet", "Rex"), ("object", "my mug")]
    assert ".box-0{left:10.00%;top:50.00%;width:30.00%;height:40.00%}" in css
    assert ".box-1{left:60.00%;top:10.00%;width:20.00%;height:25.00%}" in css
    assert "box by head" in html and "box by vlm" in html
