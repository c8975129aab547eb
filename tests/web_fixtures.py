"""Helpers for the web app's tests: a real photo library: real dlib faces on scikit-image photos
(``astronaut()`` is Eileen Collins, ``camera()`` the cameraman), indexed by the real pipeline
into a real SQLite index, with the person Eileen trained from four examples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from concept_fixtures import composite, face_variant, run_queue, save
from conftest_yaml import isolated_yaml
from PIL import Image

from photod.app import App, build_app
from photod.concepts import teach
from photod.config import load_config
from photod.index import concepts as store


@dataclass
class Library:
    """The wired photod over the test library, and its photos by role."""

    app: App
    root: Path
    eileen: list[str]  # photos of Eileen (recognised)
    strangers: list[str]  # photos of the cameraman (an unnamed face each)
    both: str  # both people in one photo
    plain: str  # no face


def make_library(tmp_path: Path, web_yaml: str = "") -> Library:
    """Build, index and train the library under ``tmp_path``."""
    root = tmp_path / "photos"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(isolated_yaml(tmp_path, web_yaml))
    config = load_config(cfg, environ={})
    app = build_app(config)
    examples = [save(face_variant("astronaut", s), tmp_path / f"ex/a{s}.jpg") for s in range(4)]

    def person(db):
        return store.add_concept(db, "Eileen", kind="person", class_word="woman")

    eileen_concept = app.index.write(person)
    teach.add_examples(app.index, eileen_concept, examples, config.concepts)
    app.trainer.train(eileen_concept.id)
    eileen = [save(face_variant("astronaut", s), root / f"2024/eileen{s}.jpg") for s in (10, 11)]
    strangers = [save(face_variant("camera", s), root / f"2023/man{s}.jpg") for s in (10, 11, 12)]
    both = save(composite(20), root / "2024/both.jpg")
    plain = str(root / "coffee.png")
    Image.new("RGB", (200, 150), (120, 80, 40)).save(plain)
    paths = [*eileen, *strangers, both, plain]
    app.index.jobs.enqueue_many("index", paths)
    run_queue(app, listeners=True)
    return Library(app, root, eileen, strangers, both, plain)


def web_client(lib: Library, **web):
    """A Starlette test client (real HTTP semantics over httpx) on the loopback name."""
    from starlette.testclient import TestClient

    from photod.web.server import create_web_app

    cfg = lib.app.config.web.model_copy(update=web)
    return TestClient(create_web_app(lib.app, cfg), base_url="http://127.0.0.1")


def csrf_of(client) -> str:
    """The CSRF token a page hands to htmx (read from a real page, as a browser would)."""
    import re

    html = client.get("/status").text
    return re.search(r'"X-CSRF-Token": "([^"]+)"', html).group(1)
