"""The pipeline stage and ``photod metadata write|clear`` against a real index."""

from __future__ import annotations

import os
import time
from pathlib import Path

import piexif
from click.testing import CliRunner

from photod.cli import Context
from photod.cli.metadata import metadata_group
from photod.config import Config
from photod.index import Index
from photod.index.jobs import Job
from photod.index.photos import save_photo
from photod.index.queries import photo_state
from photod.ingest.decode import content_hash
from photod.metadata.stage import MetadataStage
from photod.pipeline.task import Caption, Detection, Face, PhotoInfo, PhotoTask
from photod.plugins import PluginRegistry
from photod.services import Services

from .samples import face_box, make_photo, read_tags


def _concept(db, name: str, kind: str) -> int:
    now = time.time()
    return db["concepts"].insert({"name": name, "identifier": f"<{name}>", "kind": kind,
        "class_word": "person" if kind == "person" else "dog", "version": 1,
        "created_at": now, "updated_at": now}).last_pk  # fmt: skip


def _indexed_task(index: Index, photo: Path) -> PhotoTask:
    data, st = photo.read_bytes(), photo.stat()
    alice = index.write(lambda db: _concept(db, "Alice", "person"))
    rex = index.write(lambda db: _concept(db, "Rex", "pet"))
    task = PhotoTask(
        job=Job(id=1, kind="index", path=str(photo)),
        path=photo,
        info=PhotoInfo(content_hash(data), st.st_size, st.st_mtime_ns, 512, 512, 6, "JPEG"),
        faces=[Face(box=face_box(), score=0.99, model="test")],
        detections=[
            Detection(alice, 0.9, "face-head", 1, face_index=0),
            Detection(rex, 0.8, "clip-head", 1, box=(0.05, 0.6, 0.2, 0.25)),
        ],
        captions=[Caption("Alice and Rex in space", "tiny-vlm")],
    )
    index.write(lambda db: save_photo(db, task))
    return task


def test_stage_writes_and_records_the_new_file_state(
    tmp_path: Path, config: Config, photo_root: Path, exiftool: str
) -> None:
    config.metadata.enabled = True
    photo = make_photo(photo_root / "rotated.jpg", orientation=6)
    with Index(config.index_path) as index:
        services = Services(config=config, index=index, plugins=PluginRegistry())
        stage = MetadataStage.create(services)
        assert stage is not None and stage.position == 500
        task = _indexed_task(index, photo)
        stage.process(task)

        st = photo.stat()
        db = services.index.reader()
        # The index holds the file as photod left it: the watcher sees no change.
        assert photo_state(db, str(photo)) == (content_hash(photo.read_bytes()), st.st_size,
                                               st.st_mtime_ns)  # fmt: skip
        assert stage.recent.is_ours(photo, time.time())
        tags = read_tags(exiftool, Path(f"{photo}.xmp"))
        assert tags["XMP-dc:Description"] == "Alice and Rex in space"
        names = {r["Name"]: r["Type"] for r in tags["XMP-mwg-rs:RegionInfo"]["RegionList"]}
        assert names == {"Alice": "Face", "Rex": "Pet"}
        assert tags["XMP-lr:HierarchicalSubject"] == ["People|Alice", "Pets|Rex"]

        # Another tool's edit is not mistaken for photod's.
        os.utime(photo, ns=(st.st_mtime_ns + 10**9, st.st_mtime_ns + 10**9))
        assert not stage.recent.is_ours(photo, time.time())


def test_stage_is_off_unless_enabled(config: Config) -> None:
    with Index(config.index_path) as index:
        services = Services(config=config, index=index, plugins=PluginRegistry())
        assert MetadataStage.create(services) is None


def test_cli_clear_then_write_from_the_index(
    tmp_path: Path, config: Config, photo_root: Path, exiftool: str
) -> None:
    photo = make_photo(photo_root / "photo.jpg")
    original = photo.read_bytes()
    config.metadata.enabled = True
    with Index(config.index_path) as index:
        services = Services(config=config, index=index, plugins=PluginRegistry())
        task = _indexed_task(index, photo)
        MetadataStage.create(services).process(task)  # type: ignore[union-attr]
    assert photo.read_bytes() != original

    runner = CliRunner()
    ctx = Context(tmp_path / "config.yaml")
    result = runner.invoke(metadata_group, ["clear", str(photo_root)], obj=ctx)
    assert result.exit_code == 0, result.output
    assert "removed from 1 photo" in result.output
    assert not Path(f"{photo}.xmp").exists()
    assert piexif.load(str(photo))["0th"].get(piexif.ImageIFD.XPComment) is None
    reader = Index(config.index_path).reader()
    st = photo.stat()
    assert photo_state(reader, str(photo))[1:] == (st.st_size, st.st_mtime_ns)  # type: ignore[index]

    result = runner.invoke(metadata_group, ["write", str(photo)], obj=ctx)
    assert result.exit_code == 0, result.output
    tags = read_tags(exiftool, photo)
    assert tags["IFD0:XPKeywords"] == "Alice;Rex"
    side = read_tags(exiftool, Path(f"{photo}.xmp"))
    # The index keeps face boxes only, so a rewrite from it has Alice's region, not Rex's.
    assert [r["Name"] for r in side["XMP-mwg-rs:RegionInfo"]["RegionList"]] == ["Alice"]
    st = photo.stat()
    assert photo_state(reader, str(photo))[1:] == (st.st_size, st.st_mtime_ns)  # type: ignore[index]
