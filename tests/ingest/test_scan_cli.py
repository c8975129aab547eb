"""``photod scan`` end to end: real files (good and bad), the real CLI, a real SQLite index."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pillow_heif
import pytest
from click.testing import CliRunner, Result

from photod.cli import cli
from photod.ingest.decode import content_hash
from tests.conftest import config_yaml, write_photo

GOOD = {"a.jpg": (320, 240), "b.png": (200, 100), "sub/c.heic": (160, 120), "d.tif": (64, 96)}


def photod(cfg: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def scan(cfg: Path) -> str:
    return photod(cfg, "scan", "--no-progress").stdout.strip().splitlines()[-1]


def rows(tmp_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "data" / "index.sqlite") as db:
        return db.execute(sql).fetchall()


def photos(tmp_path: Path) -> dict[str, tuple]:
    found = rows(tmp_path, "SELECT path, id, size, width, height, content_hash, status FROM photos")
    return {r[0]: r[1:] for r in found}


def failures(tmp_path: Path) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(tmp_path, "SELECT path, reason, attempts FROM failures")}


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, Path]:
    """A photo folder with good photos and every kind of bad file; returns (config, root)."""
    root = tmp_path / "photos"
    pillow_heif.register_heif_opener()  # to write the HEIC photo
    for i, (name, size) in enumerate(GOOD.items()):
        write_photo(root / name, size=size, seed=i)
    full = (root / "a.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (root / "empty.jpg").touch()
    (root / "notes.jpg").write_text("not a photo\n")
    os.mkfifo(root / "pipe.jpg")
    os.symlink(root / "loop2.jpg", root / "loop1.jpg")
    os.symlink(root / "loop1.jpg", root / "loop2.jpg")
    fd = os.open(bytes(root) + b"/caf\xe9-latin1.jpg", os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, full)
    os.close(fd)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_yaml(tmp_path, root))
    return cfg, root


EXPECTED_REASONS = {
    "truncated.jpg": "truncated or corrupt image data",
    "empty.jpg": "empty file (0 bytes)",
    "notes.jpg": "not a recognised image format",
    "pipe.jpg": "not a photo file: a named pipe (FIFO)",
    "loop1.jpg": "symbolic link loop",
    "loop2.jpg": "symbolic link loop",
    "caf\\xe9-latin1.jpg": "file name is not valid UTF-8",
}


def test_scan_indexes_good_and_records_bad(tmp_path: Path, library) -> None:
    cfg, root = library
    summary = scan(cfg)
    assert summary.startswith(f"{len(GOOD) + len(EXPECTED_REASONS)} photos found")
    assert f"{len(GOOD)} indexed" in summary

    indexed = photos(tmp_path)
    assert set(indexed) == {str(root / name) for name in GOOD}
    for name, (w, h) in GOOD.items():
        data = (root / name).read_bytes()
        _id, size, width, height, digest, status = indexed[str(root / name)]
        assert (size, width, height, status) == (len(data), w, h, "indexed")
        assert digest == content_hash(data)

    failed = failures(tmp_path)
    assert set(failed) == {str(root / name) for name in EXPECTED_REASONS}
    for name, why in EXPECTED_REASONS.items():
        assert why in failed[str(root / name)][0], name

    listing = photod(cfg, "failures").stdout
    for name, why in EXPECTED_REASONS.items():
        assert str(root / name) in listing and why in listing
    status = json.loads(photod(cfg, "status", "--json").stdout)
    assert status["photos"] == len(GOOD)
    assert status["by_status"] == {"indexed": len(GOOD)}
    assert status["failures"] == len(EXPECTED_REASONS)
    assert status["jobs"].get("queued", 0) == 0


def test_rescans_process_only_what_changed(tmp_path: Path, library) -> None:
    cfg, root = library
    scan(cfg)
    before = photos(tmp_path)

    # Nothing changed: nothing is decoded again, failed files are not retried.
    assert ", 0 indexed, 0 failed" in scan(cfg)
    assert photos(tmp_path) == before
    assert {attempts for _, attempts in failures(tmp_path).values()} == {1}

    # A changed photo is re-run and keeps its id; a fixed file leaves the failures.
    write_photo(root / "a.jpg", size=(400, 300), seed=99)
    write_photo(root / "truncated.jpg", size=(30, 20), seed=5)
    assert ", 2 indexed, 0 failed" in scan(cfg)
    after = photos(tmp_path)
    a = after[str(root / "a.jpg")]
    assert a[0] == before[str(root / "a.jpg")][0]
    assert (a[2], a[3], a[4]) == (400, 300, content_hash((root / "a.jpg").read_bytes()))
    assert after[str(root / "truncated.jpg")][2:4] == (30, 20)
    assert str(root / "truncated.jpg") not in failures(tmp_path)

    # Deleted: its row goes. Moved while photod was not running: same row, new path.
    (root / "b.png").unlink()
    (root / "moved").mkdir()
    shutil.move(root / "sub" / "c.heic", root / "moved" / "c.heic")
    summary = scan(cfg)
    assert "1 removed" in summary
    final = photos(tmp_path)
    assert str(root / "b.png") not in final
    assert str(root / "sub" / "c.heic") not in final
    assert final[str(root / "moved" / "c.heic")][0] == before[str(root / "sub" / "c.heic")][0]
    assert final[str(root / "moved" / "c.heic")][5] == "indexed"
    assert len(final) == len(GOOD)  # a.jpg, c.heic, d.tif, the fixed truncated.jpg


def test_symlink_loop_is_not_retried(tmp_path: Path, library) -> None:
    cfg, root = library
    scan(cfg)
    assert ", 0 indexed, 0 failed" in scan(cfg)
