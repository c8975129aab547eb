"""Personalized REC with the toy grounding LLaVA (the shipped ``toy-llava-ground`` fixture):
``photod locate`` and the daemon's locate stage, on real toy-world photos, a real index and
concept store, and a real JPEG whose sidecar exiftool reads back.

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
from concept_fixtures import make_config

from photod.app import build_app
from photod.cli import cli
from photod.concepts.catalog import artifact_store
from photod.faces.base import iou
from photod.index import concepts as store
from photod.vlm.embeddings import save_embedding
from photod_lab.toyworld.fixture import fixture_dir, load_vlm
from photod_lab.toyworld.grounding import object_box
from photod_lab.toyworld.naming import Naming, NamingAid
from photod_lab.toyworld.render import Decoration
from photod_lab.toyworld.scenes import scene_from_items

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
    return make_config(tmp_path, extra)


def test_locate_answers_with_the_concepts_box_or_says_it_is_not_there(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _teach(config)
    runner = CliRunner()
    hits = 0
    for seed in range(4):
        scene = _scene(seed, True)
        photo = tmp_path / f"luna-{seed}.png"
        scene.image().save(photo)
        args = ["--config", str(tmp_path / "config.yaml"), "locate", str(photo), "luna", "--json"]
        result = runner.invoke(cli, args)
        if result.exit_code == 0:
            out = json.loads(result.output)
            assert out["source"] == "vlm" and out["model"] == "ground"
            hits += iou(out["box"], object_box(scene.objects[0].spec, 64)) >= 0.5
    assert hits >= 3

    photo = tmp_path / "no-luna.png"
    _scene(5, False).image().save(photo)
    result = runner.invoke(
        cli, ["--config", str(tmp_path / "config.yaml"), "locate", str(photo), "luna"]
    )
    assert result.exit_code == 1
    assert "luna is not located in" in result.output and "no box" in result.output


def test_daemon_writes_the_located_region_into_the_sidecar(tmp_path: Path, exiftool: str) -> None:
    config = _config(tmp_path, FIRED)
    _teach(config)
    scene = _scene(1, True)
    # A real JPEG, larger than the model's input, as a camera would store it.
    photo = config.library.roots[0] / "luna.jpg"
    scene.image().resize((256, 256)).save(photo, quality=95)
    with build_app(config) as app:
        assert "locate" in [s.name for s in app.stages]
        app.index.jobs.enqueue_many("index", [str(photo)])
        from concept_fixtures import run_queue

        assert run_queue(app, listeners=True) == 1
        [(x, y, w, h, source)] = (
            app.index.reader().execute("SELECT x, y, w, h, box_source FROM detections").fetchall()
        )
    assert source == "vlm"
    truth = object_box(scene.objects[0].spec, 64)
    assert iou((x, y, w, h), truth) >= 0.5

    from tests.metadata.samples import read_tags

    tags = read_tags(exiftool, Path(f"{photo}.xmp"))
    [region] = tags["XMP-mwg-rs:RegionInfo"]["RegionList"]
    assert region["Name"] == "luna" and region["Type"] == "Object"
    area = region["Area"]
    assert (area["X"], area["Y"]) == pytest.approx((x + w / 2, y + h / 2), abs=1e-6)
    assert "Objects|luna" in tags["XMP-lr:HierarchicalSubject"]


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
