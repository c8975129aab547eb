"""Atomic writes: killed writers, read-only files and folders, files changed mid-write."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from photod.errors import PhotoError
from photod.metadata.writer import MetadataWriter, WriterOptions

from .samples import make_photo, pixels, sample_meta

REPO = Path(__file__).resolve().parents[2]

# A writer process: pauses between the temporary file and the rename when told to, or
# rewrites the photo in a loop with changing captions.
WRITER_SCRIPT = """
import sys, time
from pathlib import Path
from photod.metadata.model import Geometry, PhotoMetadata
from photod.metadata.writer import MetadataWriter, WriterOptions

def pause(tmp):
    print("READY", tmp, flush=True)
    time.sleep(60)

photo, mode = Path(sys.argv[1]), sys.argv[2]
writer = MetadataWriter(WriterOptions(), before_rename=pause if mode == "pause" else None)
i = 0
while True:
    meta = PhotoMetadata(Geometry(512, 512), caption=f"caption {i} " + "x" * (i % 50),
                         keywords=[f"tag{i}"])
    writer.write(photo, meta)
    if mode == "pause":
        break
    print("WROTE", i, flush=True)
    i += 1
"""


def _spawn(photo: Path, mode: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, str(photo), mode],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_writer_killed_between_temp_file_and_rename_leaves_the_original(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    original = photo.read_bytes()
    proc = _spawn(photo, "pause")
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("READY"), line
    tmp = Path(line.split(" ", 1)[1].strip())
    assert tmp.exists() and tmp.parent == photo.parent  # the new version, complete, not renamed
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert photo.read_bytes() == original
    assert tmp.name.startswith(".") and ".photod-tmp" in tmp.name  # ignored by the watcher
    # The next write works normally.
    MetadataWriter(WriterOptions()).write(photo, sample_meta())
    assert pixels(photo) == pixels(tmp)  # same pixels in the finished and the abandoned write


def test_writer_killed_at_random_moments_never_leaves_a_broken_file(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    reference = pixels(photo)
    rng = random.Random(6)
    for _ in range(6):
        proc = _spawn(photo, "loop")
        assert proc.stdout.readline().startswith("WROTE")  # type: ignore[union-attr]
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert pixels(photo) == reference  # decodes completely, same pixels
        ET.fromstring((tmp_path / "photo.jpg.xmp").read_bytes())  # a whole sidecar


def test_read_only_file_is_a_recorded_failure(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    photo.chmod(0o444)
    before = photo.read_bytes()
    with pytest.raises(PhotoError, match="read-only") as err:
        MetadataWriter(WriterOptions(sidecar=False)).write(photo, sample_meta())
    assert err.value.stage == "metadata"
    assert photo.read_bytes() == before


def test_read_only_folder_is_a_recorded_failure(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    photo = make_photo(folder / "photo.png")
    folder.chmod(0o555)
    try:
        with pytest.raises(PhotoError, match="read-only") as err:
            MetadataWriter(WriterOptions()).write(photo, sample_meta())
        assert err.value.stage == "metadata"
        assert sorted(p.name for p in folder.iterdir()) == ["photo.png"]
    finally:
        folder.chmod(0o755)


def test_file_changed_between_read_and_write_keeps_the_other_edit(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")

    def other_tool_edits(_tmp: Path) -> None:
        with open(photo, "ab") as f:
            f.write(b"edited by another tool")

    writer = MetadataWriter(WriterOptions(), before_rename=other_tool_edits)
    with pytest.raises(PhotoError, match="changed") as err:
        writer.write(photo, sample_meta())
    assert err.value.stage == "metadata"
    assert photo.read_bytes().endswith(b"edited by another tool")
    assert not [p for p in tmp_path.iterdir() if ".photod-tmp" in p.name]


def test_file_changed_since_analysis_is_not_written(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    st = photo.stat()
    with pytest.raises(PhotoError, match="changed after it was analysed"):
        MetadataWriter(WriterOptions()).write(photo, sample_meta(), expect=(st.st_size + 1, 0))
    assert not (tmp_path / "photo.jpg.xmp").exists()


def test_permissions_and_optionally_mtime_are_kept(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    photo.chmod(0o640)
    old_mtime = 1_000_000_000_123_456_789
    os.utime(photo, ns=(old_mtime, old_mtime))
    result = MetadataWriter(WriterOptions(keep_mtime=True)).write(photo, sample_meta())
    st = photo.stat()
    assert st.st_mode & 0o777 == 0o640
    assert st.st_mtime_ns == old_mtime == result.photo.mtime_ns  # type: ignore[union-attr]
    assert st.st_size == result.photo.size  # type: ignore[union-attr]

    meta = sample_meta()
    meta.caption = "Another caption"
    MetadataWriter(WriterOptions()).write(photo, meta)
    assert photo.stat().st_mtime_ns != old_mtime  # without keep_mtime the time moves on
