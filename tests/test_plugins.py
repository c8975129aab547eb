"""Plugins: entry points (built-ins and the shipped sharpness plugin), loose files, failures."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import piexif
import pytest
from click.testing import CliRunner
from PIL import Image, ImageFilter

from photod.app import build_app
from photod.cli import cli
from photod.config import PluginsConfig, load_config
from photod.errors import EX_CONFIG, ConfigError
from photod.index.db import connect
from photod.plugins import load_plugins
from tests.conftest import config_yaml
from tests.search_helpers import fields, search

GOOD_PLUGIN = """
from photod.pipeline.stage import BaseStage
from photod.plugins import hookimpl

class Stamp(BaseStage):
    name = "stamp"
    slot = "after_personalize"
    runs_on_unchanged = True
    def process(self, task):
        task.extras["stamped"] = True

@hookimpl
def photod_stages():
    return [Stamp]
"""


def test_builtins_and_shipped_plugin_register_through_entry_points():
    registry = load_plugins(PluginsConfig())
    names = {p.name: p for p in registry.loaded}
    assert names["builtin_heads"].hooks == ["photod_heads"]
    assert names["builtin_vlm_backends"].hooks == ["photod_vlm_backends"]
    assert names["sharpness"].source == "entry point photod-sharpness"
    # The built-in stages are written out by the composition root, not registered.
    assert [c.name for c in registry.collect("photod_stages")] == ["sharpness"]


def test_loose_plugin_files_load_and_broken_ones_are_reported(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "stamp.py").write_text(GOOD_PLUGIN)
    (folder / "broken.py").write_text("raise ImportError('needs libfoo')\n")
    (folder / "badhook.py").write_text(
        "from photod.plugins import hookimpl\n@hookimpl\ndef photod_stages():\n    1 / 0\n"
    )
    registry = load_plugins(PluginsConfig(paths=[folder], disabled=["sharpness"]))
    by_name = {p.name: p for p in registry.loaded}
    assert "sharpness" not in by_name
    assert by_name["stamp"].error is None and by_name["stamp"].hooks == ["photod_stages"]
    assert "needs libfoo" in by_name["broken"].error
    classes = registry.collect("photod_stages")  # the failing hook is skipped, not fatal
    assert "stamp" in [c.name for c in classes]
    assert "ZeroDivisionError" in by_name["badhook"].error


def test_photod_plugins_lists_plugins_and_stages(tmp_path, photo_root):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "stamp.py").write_text(GOOD_PLUGIN)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_yaml(tmp_path, photo_root, f"plugins:\n  paths: [{folder}]\n"))
    result = CliRunner().invoke(cli, ["--config", str(cfg), "plugins"])
    assert result.exit_code == 0, result.output
    assert "stamp" in result.output and f"file {folder / 'stamp.py'}" in result.output
    assert "stages: ingest -> places -> heads -> sharpness -> stamp -> index" in result.output
    # No VLM configured (no grounding VLM either), no write-back.
    assert "off:    personalize, locate, metadata" in result.output
    assert "after commit" not in result.output


def test_sharpness_plugin_tags_blurry_photos_searchably(tmp_path, photo_root):
    rng = np.random.default_rng(1)
    sharp = Image.fromarray(rng.integers(0, 256, (600, 800, 3), dtype=np.uint8))
    sharp.save(photo_root / "sharp.jpg", quality=95)
    sharp.filter(ImageFilter.GaussianBlur(8)).save(photo_root / "blurry.jpg", quality=95)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_yaml(tmp_path, photo_root, "metadata:\n  enabled: true\n"))
    result = CliRunner().invoke(cli, ["--config", str(cfg), "scan", "--no-progress"])
    assert result.exit_code == 0, result.output
    db = connect(tmp_path / "data" / "index.sqlite")
    hits = search(db, "blurry")
    assert [(h.path, fields(h)[0]) for h in hits] == [(str(photo_root / "blurry.jpg"), "tag")]
    # A typed tag with the model that produced it and its score; no fake VQA answer.
    [(value, source, model, score)] = db.execute("SELECT value, source, model, score FROM tags")
    assert (value, source, model) == ("blurry", "sharpness", "photod-sharpness/1") and score < 60
    assert db.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    # The tag is the photo's keyword; the sharp photo's score is no keyword of its own.
    keywords = {
        name: piexif.load(str(photo_root / name))["0th"].get(piexif.ImageIFD.XPKeywords)
        for name in ("blurry.jpg", "sharp.jpg")
    }
    assert keywords == {"blurry.jpg": tuple("blurry\0".encode("utf-16-le")), "sharp.jpg": None}


def test_a_wrong_plugin_setting_stops_photod_naming_it(tmp_path, photo_root):
    cfg = tmp_path / "c.yaml"
    bad = "plugins:\n  settings:\n    sharpness:\n      threshold: -5\n"
    cfg.write_text(config_yaml(tmp_path, photo_root, bad))
    run = subprocess.run(
        [sys.executable, "-m", "photod", "--config", str(cfg), "plugins"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == EX_CONFIG
    [line] = run.stderr.splitlines()
    assert line.startswith("photod: plugins.settings.sharpness.threshold: ")
    cfg.write_text(config_yaml(tmp_path, photo_root, bad.replace("threshold: -5", "treshold: 5")))
    with pytest.raises(ConfigError, match="plugins.settings.sharpness.treshold: unknown key"):
        build_app(load_config(cfg, environ={}))


def test_plugin_settings_reach_the_plugin(tmp_path, photo_root):
    cfg = tmp_path / "c.yaml"
    extra = "plugins:\n  settings:\n    sharpness:\n      threshold: 12.5\n    gone: {a: 1}\n"
    cfg.write_text(config_yaml(tmp_path, photo_root, extra))
    with build_app(load_config(cfg, environ={})) as app:  # a section of no plugin is ignored
        [stage] = [s for s in app.stages if s.name == "sharpness"]
        assert stage.threshold == 12.5


def test_plugin_stages_run_in_their_slots(tmp_path, photo_root):
    folder = tmp_path / "plugins"
    folder.mkdir()
    for name, slot in (("early", "after_ingest"), ("late", "after_personalize"), ("lost", "x")):
        (folder / f"{name}.py").write_text(
            GOOD_PLUGIN.replace('"stamp"', repr(name)).replace('"after_personalize"', repr(slot))
        )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_yaml(tmp_path, photo_root, f"plugins:\n  paths: [{folder}]\n"))
    with build_app(load_config(cfg, environ={})) as app:
        names = [s.name for s in app.stages]
        assert names == ["ingest", "places", "early", "heads", "sharpness", "late", "index"]
        # A stage naming no slot is left out and reported, never fatal.
        assert "lost" in app.inactive_stages
