"""Metadata after the commit (the daemon's listener) and ``photod metadata write|clear``.

Both write from what the index holds, so the same photo gets the same metadata from either;
read back with exiftool.
"""

from __future__ import annotations

import time
from pathlib import Path

import piexif
from click.testing import CliRunner

from photod.app import build_app
from photod.cli import Context
from photod.cli.metadata import metadata_group
from photod.config import Config, load_config
from photod.index import jobs
from photod.index.db import connect
from photod.index.queries import failures, photo_state
from photod.ingest.decode import content_hash
from tests.conftest import config_yaml

from .samples import face_box, make_photo, read_tags

# A stage standing in for the heads and the VLM: a face, Alice on it, Rex with a box of his
# own, a caption, one tag and one plugin value that is not a tag. Concepts 1 and 2 are
# Alice (person) and Rex (pet); the face box is the astronaut's in the oriented photo.
PAINTER = """
from photod.pipeline.stage import BaseStage
from photod.pipeline.task import Caption, Detection, Face, Tag
from photod.plugins import hookimpl

class Painter(BaseStage):
    name = "painter"
    slot = "after_personalize"
    def process(self, task):
        task.faces.append(Face(box={face!r}, score=0.99, model="test"))
        face = len(task.faces) - 1
        task.detections.append(Detection(1, 0.9, "face-head", 1, face_index=face))
        task.detections.append(Detection(2, 0.8, "clip-head", 1, box=(0.05, 0.6, 0.2, 0.25)))
        task.captions.append(Caption("Alice and Rex in space", "tiny-vlm"))
        task.tags.append(Tag("astronaut", source="painter", model="painter/1", score=0.7))
        task.extras["mood"] = "gloomy"  # a plugin value, not a tag: never a keyword

@hookimpl
def photod_stages():
    return [Painter]
"""

# Another tool edits the photo between ingest and the metadata write.
TOUCHER = """
import os
from photod.pipeline.stage import BaseStage
from photod.plugins import hookimpl

class Toucher(BaseStage):
    name = "toucher"
    slot = "after_personalize"
    def process(self, task):
        st = os.stat(task.path)
        os.utime(task.path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))

@hookimpl
def photod_stages():
    return [Toucher]
"""

# The photo's own fields exiftool shows, without those of the file system.
WRITTEN = ("IFD0:", "ExifIFD:", "XMP-")


def _config(tmp_path: Path, photo_root: Path, plugin: str, enabled: bool = True) -> Config:
    folder = tmp_path / "plugins"
    folder.mkdir(exist_ok=True)
    (folder / "stage.py").write_text(plugin)
    extra = f"plugins:\n  paths: [{folder}]\n  disabled: [sharpness]\n"
    extra += f"metadata:\n  enabled: {str(enabled).lower()}\n"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_yaml(tmp_path, photo_root, extra))
    return load_config(cfg, environ={})


def _process(config: Config, photo: Path) -> None:
    """What the daemon does with a new photo: queue it, run the pipeline, commit, notify."""
    with build_app(config) as app:
        now = time.time()
        app.index.write(lambda db: [
            db["concepts"].insert({"name": name, "identifier": f"<{name}>", "kind": kind,
                "class_word": "thing", "created_at": now, "updated_at": now})
            for name, kind in (("Alice", "person"), ("Rex", "pet"))
        ])  # fmt: skip
        app.index.write(lambda db: jobs.enqueue(db, jobs.INDEX, str(photo)))
        processor = app.processor(threaded=False).start()
        assert processor.pump() == 1
        processor.close()


def _written(exiftool: str, photo: Path) -> dict:
    tags = {**read_tags(exiftool, photo), **read_tags(exiftool, Path(f"{photo}.xmp"))}
    return {k: v for k, v in tags.items() if k.startswith(WRITTEN)}


def test_daemon_and_cli_write_the_same_metadata(
    tmp_path: Path, photo_root: Path, exiftool: str
) -> None:
    config = _config(tmp_path, photo_root, PAINTER.format(face=face_box()))
    photo = make_photo(photo_root / "rotated.jpg", orientation=6)
    _process(config, photo)

    st = photo.stat()
    reader = connect(config.index_path)
    # The index holds the file as photod left it: the watcher sees no change.
    assert photo_state(reader, str(photo)) == (content_hash(photo.read_bytes()), st.st_size,
                                               st.st_mtime_ns)  # fmt: skip
    daemon = _written(exiftool, photo)
    assert daemon["XMP-dc:Description"] == "Alice and Rex in space"
    names = {r["Name"]: r["Type"] for r in daemon["XMP-mwg-rs:RegionInfo"]["RegionList"]}
    assert names == {"Alice": "Face", "Rex": "Pet"}
    assert daemon["XMP-lr:HierarchicalSubject"] == ["People|Alice", "Pets|Rex", "Tags|astronaut"]
    assert daemon["IFD0:XPKeywords"] == "Alice;Rex;astronaut"
    assert "gloomy" not in str(daemon)

    runner = CliRunner()
    ctx = Context(tmp_path / "config.yaml")
    result = runner.invoke(metadata_group, ["clear", str(photo_root)], obj=ctx)
    assert result.exit_code == 0, result.output
    assert "removed from 1 photo" in result.output
    assert not Path(f"{photo}.xmp").exists()
    assert piexif.load(str(photo))["0th"].get(piexif.ImageIFD.XPComment) is None
    st = photo.stat()
    assert photo_state(reader, str(photo))[1:] == (st.st_size, st.st_mtime_ns)  # type: ignore[index]

    result = runner.invoke(metadata_group, ["write", str(photo)], obj=ctx)
    assert result.exit_code == 0, result.output
    assert _written(exiftool, photo) == daemon  # person and pet regions included
    st = photo.stat()
    assert photo_state(reader, str(photo))[1:] == (st.st_size, st.st_mtime_ns)  # type: ignore[index]


def test_a_failed_write_is_recorded_for_the_photo(tmp_path: Path, photo_root: Path) -> None:
    config = _config(tmp_path, photo_root, TOUCHER)
    photo = make_photo(photo_root / "edited.jpg")
    _process(config, photo)
    assert not Path(f"{photo}.xmp").exists()  # nothing written over the other tool's edit
    [failure] = failures(connect(config.index_path))
    assert failure["stage"] == "metadata" and "changed after it was analysed" in failure["reason"]


def test_the_listener_is_off_unless_enabled(tmp_path: Path, photo_root: Path) -> None:
    config = _config(tmp_path, photo_root, PAINTER.format(face=face_box()), enabled=False)
    with build_app(config) as app:
        assert app.listeners == [] and app.inactive_listeners == ["metadata"]
    config.metadata.enabled = True
    with build_app(config) as app:
        assert [x.name for x in app.listeners] == ["metadata"]
