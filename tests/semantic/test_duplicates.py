"""``photod duplicates`` on real images through a real index and a real (toy) CLIP: a JPEG,
its resized and re-encoded copies, an exact byte copy, and photos that are not copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from concept_fixtures import make_config, source_image

from photod.cli import cli
from photod_lab.toyworld.fixture import fixture_dir


def _run(tmp_path: Path, *args: str):
    return CliRunner().invoke(
        cli, ["--config", str(tmp_path / "config.yaml"), *args], catch_exceptions=False
    )


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Photos of a scanned library (``photod scan``): one photo in four forms, two others."""
    make_config(tmp_path, clip_dir=fixture_dir("toy-clip"))
    root = tmp_path / "photos"
    original = source_image("astronaut")
    original.save(root / "astronaut.jpg", quality=92)
    original.resize((256, 256)).save(root / "astronaut-small.jpg", quality=92)
    original.save(root / "astronaut-q40.jpg", quality=40)
    (root / "backup").mkdir()
    shutil.copyfile(root / "astronaut.jpg", root / "backup" / "astronaut.jpg")
    source_image("camera").save(root / "camera.jpg", quality=92)
    source_image("coffee").save(root / "coffee.jpg", quality=92)
    assert _run(tmp_path, "scan", "--no-progress").exit_code == 0
    return root


def test_copies_and_near_duplicates_are_grouped(tmp_path, library):
    result = _run(tmp_path, "duplicates", "--json")
    assert result.exit_code == 0, result.output
    groups = json.loads(result.output)
    assert len(groups) == 1
    group = groups[0]
    assert group["kind"] == "near"
    assert [Path(p["path"]).relative_to(library).as_posix() for p in group["photos"]] == [
        "astronaut-q40.jpg",
        "astronaut-small.jpg",
        "astronaut.jpg",
        "backup/astronaut.jpg",
    ]
    assert [p["similarity"] for p in group["photos"]] == [1.0, 1.0, 1.0, 1.0]  # 64 px toy CLIP

    text = _run(tmp_path, "duplicates")
    assert text.exit_code == 0
    assert text.output.splitlines()[0] == "group 1: near-duplicates"
    assert len(text.output.splitlines()) == 5


def test_exact_copies_alone_need_no_clip(tmp_path, library):
    result = _run(tmp_path, "duplicates", "--exact", "--json")
    assert result.exit_code == 0, result.output
    groups = json.loads(result.output)
    assert [g["kind"] for g in groups] == ["exact"]
    assert [Path(p["path"]).relative_to(library).as_posix() for p in groups[0]["photos"]] == [
        "astronaut.jpg",
        "backup/astronaut.jpg",
    ]


def test_no_duplicates_exits_1_with_and_without_json(tmp_path):
    make_config(tmp_path, clip_dir=fixture_dir("toy-clip"))
    for name in ("camera", "coffee", "chelsea"):
        source_image(name).save(tmp_path / "photos" / f"{name}.jpg", quality=92)
    assert _run(tmp_path, "scan", "--no-progress").exit_code == 0
    as_json = _run(tmp_path, "duplicates", "--json")
    assert (as_json.exit_code, json.loads(as_json.output)) == (1, [])
    assert _run(tmp_path, "duplicates").exit_code == 1


def test_photos_indexed_while_clip_was_off_are_embedded_later(tmp_path):
    make_config(tmp_path, "  enabled: false\n", clip_dir=fixture_dir("toy-clip"))
    root = tmp_path / "photos"
    source_image("astronaut").save(root / "a.jpg", quality=92)
    source_image("astronaut").resize((200, 200)).save(root / "a-small.jpg", quality=80)
    assert _run(tmp_path, "scan", "--no-progress").exit_code == 0
    assert _run(tmp_path, "duplicates").exit_code == 1  # CLIP off: no near-duplicates

    cfg = tmp_path / "config.yaml"
    cfg.write_text(cfg.read_text().replace("  enabled: false\n", ""))
    result = _run(tmp_path, "scan", "--no-progress")
    assert "0 indexed, 0 failed, 2 embedded for search" in result.output, result.output
    groups = json.loads(_run(tmp_path, "duplicates", "--json").output)
    assert [[Path(p["path"]).name for p in g["photos"]] for g in groups] == [
        ["a-small.jpg", "a.jpg"]
    ]
