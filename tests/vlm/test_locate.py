"""Personalized REC with the toy grounding LLaVA (the shipped ``toy-llava-ground`` fixture):
``photod locate`` and the daemon's locate stage, on real toy-world photos, a real index and
concept store, and real JPEGs whose sidecars exiftool reads back. (The region that a VLM
box becomes is tested from the index row on: tests/metadata/test_object_regions.py.)

The concept's embedding is written where ``photod concept train`` writes it; its value is the
kind of token the fixture learnt to read in base training (the object's look plus its name's
word embedding, :mod:`photod_lab.toyworld.naming`), so the test does not depend on a short
concept training converging.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from concept_fixtures import make_config, run_queue

from photod.app import build_app
from photod.cli import cli
from photod.concepts.catalog import artifact_store
from photod.index import concepts as store
from photod.vlm.boxes import parse_box
from photod.vlm.embeddings import save_embedding
from photod_lab.toyworld.fixture import fixture_dir, load_vlm
from photod_lab.toyworld.naming import Naming, NamingAid
from photod_lab.toyworld.render import Decoration
from photod_lab.toyworld.scenes import scene_from_items
from tests.metadata.samples import read_tags

MODEL = fixture_dir("toy-llava-ground")
# The user's object: a blue star with white stripes, called "luna" (an ordinary look, never
# named in base training; luna is a name the LM can say).
LUNA = ("star", "blue", (Decoration("stripes", "white"),), "a blue star", None)
OTHERS = [
    ("circle", "red", (), "a red circle", None),
    ("square", "green", (), "a green square", None),
]

VLM_YAML = f"""
vlm:
  models:
    - id: ground
      model: local-dir:{MODEL}
      caption_prompt: describe the image
      plain_caption_prompt: describe the image
      grounding: {{question: "locate {{concept}} ?"}}
  questions: []
  plain_captions: false
  max_new_tokens: 12
"""

# A stand-in for an object head that fired on every photo without saying where.
FIRED = """
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import Detection
from photod.plugins import hookimpl

class Fired(BaseStage):
    name = "fired"
    slot = "after_heads"
    def process(self, task):
        task.detections.append(Detection(1, 0.9, "test-head", 1))

@hookimpl
def photod_stages():
    return [Fired]
"""


@pytest.fixture(scope="module")
def exiftool() -> str:
    """exiftool's path (Debian: libimage-exiftool-perl, installed by the test setup)."""
    found = shutil.which("exiftool")
    if not found:
        pytest.skip("exiftool not installed (apt-get install libimage-exiftool-perl)")
    return found


def _scene(seed: int, with_luna: bool):
    rng = np.random.default_rng(seed)
    items = ([LUNA] if with_luna else []) + OTHERS[: 1 + seed % 2]
    return scene_from_items(rng, items, 64)


def _teach(config) -> None:
    """Concept 1, "luna", version 1, with its embedding for the VLM ``ground``."""
    model, processor = load_vlm(MODEL)
    aid = NamingAid(model, processor, 64, 8)
    ref = _scene(99, True)
    token = aid.tokens([ref], [Naming((0,), ("luna",))], np.random.default_rng(0))[0][0]
    with build_app(config) as app:

        def add(db):
            c = store.add_concept(db, "luna", kind="object", class_word="star", identifier="luna")
            store.set_version(db, c.id, 1, "test", {})

        app.index.write(add)
    vdir = artifact_store(config.paths.data_dir).version_dir(1, 1)
    save_embedding(vdir, "ground", token.reshape(1, -1), {"test": True})


def _config(tmp_path: Path, plugin: str = ""):
    extra = VLM_YAML
    if plugin:
        folder = tmp_path / "plugins"
        folder.mkdir(exist_ok=True)
        (folder / "fired.py").write_text(plugin)
        extra += f"plugins:\n  paths: [{folder}]\n  disabled: [sharpness]\n"
        extra += "metadata:\n  enabled: true\n"
    return make_config(tmp_path, extra)


def test_locate_gives_the_parsed_box_or_says_why_not(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _teach(config)
    runner = CliRunner()
    boxes = 0
    for seed in range(6):
        photo = tmp_path / f"photo-{seed}.png"
        _scene(seed, seed % 2 == 0).image().save(photo)
        args = ["--config", str(tmp_path / "config.yaml"), "locate", str(photo), "luna", "--json"]
        result = runner.invoke(cli, args)
        out = json.loads(result.stdout)
        assert out["source"] == "vlm" and out["model"] == "ground" and out["concept"] == "luna"
        # The box is exactly what the parser reads in the model's answer, or there is none.
        parsed = parse_box(out["answer"])
        assert out["box"] == (None if parsed.box is None else list(parsed.box))
        if out["box"] is None:
            assert result.exit_code == 1 and "luna is not located in" in result.output
            assert out["reason"] in result.output
        else:
            assert result.exit_code == 0 and all(0 <= v <= 1 for v in out["box"])
            boxes += 1
    # The shipped toy grounding model answers "none" to every question asked through an
    # appended token (docs/personalization.md, REC figures): the no-box path is what runs.
    assert boxes == 0

    with build_app(config) as app:
        app.index.write(lambda db: store.add_concept(db, "tom", kind="pet", class_word="dog"))
    args = ["--config", str(tmp_path / "config.yaml"), "locate", str(photo), "tom"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1 and "tom has no embedding for ground" in result.output


def test_daemon_writes_the_located_regions_into_the_sidecars(tmp_path: Path, exiftool: str) -> None:
    config = _config(tmp_path, FIRED)
    _teach(config)
    photos = []
    for seed in range(3):
        # Real JPEGs, larger than the model's input, as a camera would store them.
        photo = config.library.roots[0] / f"luna-{seed}.jpg"
        _scene(seed, True).image().resize((256, 256)).save(photo, quality=95)
        photos.append(photo)
    with build_app(config) as app:
        assert "locate" in [s.name for s in app.stages]
        app.index.jobs.enqueue_many("index", [str(p) for p in photos])
        assert run_queue(app, listeners=True) == 3
        rows = (
            app.index.reader()
            .execute(
                "SELECT p.path, d.x, d.y, d.w, d.h, d.box_source FROM detections d "
                "JOIN photos p ON p.id = d.photo_id"
            )
            .fetchall()
        )
    located = 0
    for path, x, y, w, h, source in rows:
        tags = read_tags(exiftool, Path(f"{path}.xmp"))
        assert "Objects|luna" in tags["XMP-lr:HierarchicalSubject"]
        if source is None:  # the model gave no usable box: a keyword, no region
            assert x is None and "XMP-mwg-rs:RegionInfo" not in tags
            continue
        located += 1
        assert source == "vlm"
        [region] = tags["XMP-mwg-rs:RegionInfo"]["RegionList"]
        assert region["Name"] == "luna" and region["Type"] == "Object"
        area = region["Area"]
        assert (area["X"], area["Y"], area["W"], area["H"]) == pytest.approx(
            (x + w / 2, y + h / 2, w, h), abs=1e-6
        )
    # As above: the toy model gives no box through a concept token, so the head's (none)
    # stays and the concept is a keyword without a region.
    assert located == 0 and len(rows) == 3


def test_without_a_grounding_vlm_the_heads_box_is_the_answer(tmp_path: Path) -> None:
    config = make_config(tmp_path)  # the tiny CLIP's object head, no VLM
    with build_app(config) as app:
        assert "locate" in app.inactive_stages
        app.index.write(lambda db: store.add_concept(db, "luna", kind="object", class_word="star"))
    photo = tmp_path / "luna.png"
    _scene(0, True).image().save(photo)
    args = ["--config", str(tmp_path / "config.yaml"), "locate", str(photo), "luna", "--json"]
    result = CliRunner().invoke(cli, args)
    # Never trained: its head cannot fire, so there is no box to give.
    assert result.exit_code == 1
    assert '"source": "head"' in result.output and "its head did not fire" in result.output
