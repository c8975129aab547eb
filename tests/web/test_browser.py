"""The web app in a real browser: Playwright driving Debian's Chromium (headless) against a
real uvicorn server over a real library. Screenshots are kept as test artefacts
(``$PHOTOD_TEST_ARTIFACTS``, else the test's tmp folder)."""

from __future__ import annotations

import shutil

import pytest
from test_server import free_port
from web_fixtures import run_queue

from photod.web.server import WebServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser_page(library):
    """A Chromium page, a server over ``library``, and every console error it logged."""
    from playwright.sync_api import sync_playwright

    cfg = library.app.config.web.model_copy(update={"port": free_port()})
    server = WebServer(library.app, cfg).start()
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )
        try:
            yield page, server.url.rstrip("/"), errors
        finally:
            browser.close()
            server.stop()


def test_browse_search_and_see_the_face_box(library, browser_page, artifacts):
    page, url, errors = browser_page
    page.goto(url + "/")
    assert page.locator(".tile").count() == 7
    page.screenshot(path=str(artifacts / "library.png"), full_page=True)
    page.fill("input[name=q]", "person:Eileen")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/?q=person*")
    assert page.locator(".tile").count() == 3
    page.screenshot(path=str(artifacts / "search-person-eileen.png"), full_page=True)
    both = library.app.index.photos.id_of(library.both)
    page.click(f'a.tile[href="/photo/{both}"]')
    page.wait_for_url(f"**/photo/{both}")
    box = page.locator(".box.kind-person")
    box.wait_for()
    assert box.get_attribute("data-label") == "Eileen"
    # The stylesheet placed the box over the right half of the picture (the astronaut).
    img = page.locator(".stage img").bounding_box()
    b = box.bounding_box()
    assert img["width"] > 100 and b["width"] > 10
    assert b["x"] > img["x"] + img["width"] / 2 and b["y"] >= img["y"]
    assert page.locator(".box.kind-face").count() == 1
    page.screenshot(path=str(artifacts / "photo-face-boxes.png"), full_page=True)
    assert errors == []  # no CSP violation, no script error


def test_mark_not_a_face_then_name_the_group_and_find_its_photos(library, browser_page, artifacts):
    page, url, errors = browser_page
    page.goto(url + "/faces")
    assert page.locator(".face").count() == 4
    page.screenshot(path=str(artifacts / "unnamed-faces.png"), full_page=True)
    # A false face (here: the man's face in the photo of both, treated as a false detection).
    both = library.app.index.photos.id_of(library.both)
    face = page.locator(f'.face:has(a[href="/photo/{both}"])')
    face.locator("button", has_text="Not a face").click()
    page.wait_for_selector(".flash")
    assert "not a face" in page.inner_text(".flash")
    assert page.locator(".face").count() == 3
    page.fill(".cluster input[name=name]", "Bob")
    page.click(".cluster button:has-text('Name')")
    page.wait_for_url("**/concepts/Bob")
    assert "3 face(s) added as examples" in page.inner_text(".flash")
    assert page.locator(".example").count() == 3
    page.click("button:has-text('Retrain now')")
    page.wait_for_selector(".flash:has-text('training queued now')")
    page.screenshot(path=str(artifacts / "concept-bob.png"), full_page=True)
    # What `photod run` does with the queued training: train, then re-run Bob's photos.
    library.app.trainer.train(library.app.index.concepts.require("Bob").id)
    run_queue(library.app, listeners=True)
    page.goto(url + "/?q=person:Bob")
    hrefs = {page.locator(".tile").nth(i).get_attribute("href") for i in range(3)}
    assert page.locator(".tile").count() == 3
    assert hrefs == {f"/photo/{library.app.index.photos.id_of(p)}" for p in library.strangers}
    page.goto(url + "/concepts")
    page.screenshot(path=str(artifacts / "concepts.png"), full_page=True)
    page.goto(url + "/status")
    page.wait_for_selector("#status dl")
    page.screenshot(path=str(artifacts / "status.png"), full_page=True)
    assert errors == []
