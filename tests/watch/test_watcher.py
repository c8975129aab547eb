"""The live watcher on real inotify observers, a real index, real files in tmp_path."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from watch_helpers import DEBOUNCE, QUIET, jobs_after_quiet, queued, wait_for, write_bytes

from photod.config import LibraryConfig
from photod.errors import PhotoError
from photod.index import Index
from photod.index.photos import record_failure
from photod.ingest.decode import DecodeLimits, decode_photo
from photod.watch.watcher import LibraryWatcher


@pytest.fixture
def wakes() -> list[float]:
    """When the watcher called ``wake``."""
    return []


@pytest.fixture
def watcher(library: LibraryConfig, index: Index, wakes: list[float]) -> Iterator:
    """A started watcher on ``library`` (stopped at the end)."""
    w = LibraryWatcher(library, index, wake=lambda: wakes.append(time.monotonic()))
    w.start()
    yield w
    w.stop()


def index_row(index: Index, path: Path) -> None:
    """Record ``path`` as indexed with its current stat (as ingest and metadata write-back do)."""
    st = path.stat()
    index.write(
        lambda db: db["photos"].upsert(
            {
                "path": str(path),
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "status": "indexed",
            },
            pk="path",
        )
    )


def test_create_queues_one_index_job_and_wakes(watcher, index, root, wakes):
    write_bytes(root / "a.jpg")
    assert jobs_after_quiet(index, 1) == [("index", str(root / "a.jpg"), None)]
    assert wakes
    assert watcher.polling_roots == []  # inotify, not polling


def test_modify_requeues_but_photods_own_write_does_not(watcher, index, root):
    photo = write_bytes(root / "a.jpg")
    wait_for(lambda: queued(index))
    index.write(lambda db: db.conn.execute("DELETE FROM jobs"))
    index_row(index, photo)
    # photod's metadata write-back: temp file, atomic rename over the photo, new stat stored.
    tmp = write_bytes(root / "a.jpg.photod-tmp1234", b"new bytes with metadata")
    os.replace(tmp, photo)
    index_row(index, photo)
    time.sleep(QUIET)
    assert queued(index) == []
    # A user's edit (different size/mtime than the index) is queued.
    with photo.open("ab") as fh:
        fh.write(b"edited")
    assert jobs_after_quiet(index, 1) == [("index", str(photo), None)]


def test_copy_in_progress_is_queued_once_after_it_ends(index, root):
    library = LibraryConfig(roots=[root], debounce_seconds=0.1, settle_seconds=0.3)
    w = LibraryWatcher(library, index)
    w.start()
    try:
        photo = root / "big.jpg"
        with photo.open("wb") as fh:  # ~1.5 s of writing in chunks, as a slow copy would
            for _ in range(10):
                fh.write(os.urandom(64 * 1024))
                fh.flush()
                time.sleep(0.15)
        copy_ended = time.time()
        assert queued(index) == []  # nothing while it was being written
        jobs = jobs_after_quiet(index, 1)
        assert jobs == [("index", str(photo), None)]
        created = index.write(lambda db: db.conn.execute("SELECT created_at FROM jobs").fetchone())
        assert created[0] >= copy_ended
    finally:
        w.stop()


def test_a_photo_that_failed_while_copied_is_queued_once_complete(watcher, index, root):
    """Seen empty mid-copy (the failure names that version, as the processor records it),
    the photo is queued again when its content lands; a failed version that does not
    change is not retried."""
    photo = root / "late.jpg"
    photo.touch()
    wait_for(lambda: queued(index))
    index.write(lambda db: db.conn.execute("DELETE FROM jobs"))
    with pytest.raises(PhotoError) as failed:
        decode_photo(photo, DecodeLimits(working_size=256))
    error = failed.value
    index.write(
        lambda db: record_failure(db, str(photo), error.stage, str(error), version=error.version)
    )
    time.sleep(QUIET)
    assert queued(index) == []
    write_bytes(photo, b"the complete photo")
    assert jobs_after_quiet(index, 1) == [("index", str(photo), None)]


def test_rename_and_moves_within_and_across_the_root(watcher, index, root, tmp_path):
    write_bytes(root / "a.jpg")
    (root / "sub").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    wait_for(lambda: queued(index))
    index.write(lambda db: db.conn.execute("DELETE FROM jobs"))

    os.rename(root / "a.jpg", root / "b.jpg")
    os.rename(root / "b.jpg", root / "sub" / "b.jpg")  # into a subfolder
    os.rename(root / "sub" / "b.jpg", outside / "b.jpg")  # out of the library: a deletion
    write_bytes(outside / "c.jpg")
    os.rename(outside / "c.jpg", root / "c.jpg")  # into the library: a new photo
    assert jobs_after_quiet(index, 4) == [
        ("move", str(root / "b.jpg"), {"src": str(root / "a.jpg")}),
        ("move", str(root / "sub" / "b.jpg"), {"src": str(root / "b.jpg")}),
        ("delete", str(root / "sub" / "b.jpg"), None),
        ("index", str(root / "c.jpg"), None),
    ]


def test_folder_rename_is_one_move(index, root, library):
    for name in ("1.jpg", "2.png", "deeper/3.jpg"):
        write_bytes(root / "album" / name)
    w = LibraryWatcher(library, index)
    w.start()  # after the files exist: only the rename is an event
    try:
        os.rename(root / "album", root / "holiday")
        assert jobs_after_quiet(index, 1) == [
            ("move", str(root / "holiday"), {"src": str(root / "album")})
        ]
        # The folder's new name is watched: a new file in it is seen.
        write_bytes(root / "holiday" / "deeper" / "4.jpg")
        wait_for(lambda: len(queued(index)) == 2)
        assert queued(index)[1] == ("index", str(root / "holiday" / "deeper" / "4.jpg"), None)
    finally:
        w.stop()


def test_delete_file_and_folder(index, root, library):
    write_bytes(root / "a.jpg")
    for name in ("1.jpg", "2.jpg", "sub/3.jpg"):
        write_bytes(root / "album" / name)
    w = LibraryWatcher(library, index)
    w.start()
    try:
        (root / "a.jpg").unlink()
        shutil.rmtree(root / "album")  # one deletion per file, then the folders
        assert jobs_after_quiet(index, 2) == [
            ("delete", str(root / "a.jpg"), None),
            ("delete", str(root / "album"), None),
        ]
    finally:
        w.stop()


def test_ignored_names_queue_nothing(watcher, index, root):
    for name in (
        ".hidden.jpg",
        ".thumbnails/t.jpg",
        "@eaDir/a.jpg/SYNOPHOTO.jpg",
        "a.xmp",
        "a.jpg.photod-tmp99",
        "notes.txt",
        "Thumbs.db",
        "album/.cache/x.jpg",
    ):
        write_bytes(root / name)
    os.rename(root / "a.xmp", root / "b.xmp")
    (root / "notes.txt").unlink()
    write_bytes(root / "sentinel.jpg")  # seen after all of the above
    assert jobs_after_quiet(index, 1) == [("index", str(root / "sentinel.jpg"), None)]


def test_non_utf8_names_are_skipped(watcher, index, root):
    bad = os.path.join(os.fsencode(root), b"caf\xe9.jpg")
    with open(bad, "wb") as fh:
        fh.write(b"x")
    write_bytes(root / "sentinel.jpg")
    assert jobs_after_quiet(index, 1) == [("index", str(root / "sentinel.jpg"), None)]


def test_temp_names_renamed_to_photos_are_creates(watcher, index, root):
    write_bytes(root / "x.jpg.part")
    os.rename(root / "x.jpg.part", root / "x.jpg")  # a browser download finishing
    write_bytes(root / ".y.tmp")
    os.rename(root / ".y.tmp", root / "y.jpg")  # an editor's atomic save
    assert sorted(jobs_after_quiet(index, 2)) == [
        ("index", str(root / "x.jpg"), None),
        ("index", str(root / "y.jpg"), None),
    ]


def test_renames_to_ignored_names_are_deletes(index, root, library):
    write_bytes(root / "a.jpg")
    write_bytes(root / "b.jpg")
    write_bytes(root / "album" / "c.jpg")
    w = LibraryWatcher(library, index)
    w.start()
    try:
        os.rename(root / "a.jpg", root / "a.jpg.bak")
        os.rename(root / "b.jpg", root / ".b.jpg")
        os.rename(root / "album", root / ".trash")
        assert jobs_after_quiet(index, 3) == [
            ("delete", str(root / "a.jpg"), None),
            ("delete", str(root / "b.jpg"), None),
            ("delete", str(root / "album"), None),
        ]
    finally:
        w.stop()


def test_folder_moved_out_of_a_hidden_folder_is_new(index, root, library):
    for name in ("1.jpg", "sub/2.jpg", "notes.txt"):
        write_bytes(root / ".staging" / "album" / name)
    w = LibraryWatcher(library, index)
    w.start()
    try:
        os.rename(root / ".staging" / "album", root / "album")
        assert sorted(jobs_after_quiet(index, 2)) == [
            ("index", str(root / "album" / "1.jpg"), None),
            ("index", str(root / "album" / "sub" / "2.jpg"), None),
        ]
    finally:
        w.stop()


def test_pending_change_follows_a_quick_rename(watcher, index, root):
    write_bytes(root / "a.jpg")
    os.rename(root / "a.jpg", root / "b.jpg")  # before a.jpg settled
    assert jobs_after_quiet(index, 2) == [
        ("move", str(root / "b.jpg"), {"src": str(root / "a.jpg")}),
        ("index", str(root / "b.jpg"), None),
    ]


def test_extra_root_below_a_hidden_folder(index, root, tmp_path, library):
    examples = tmp_path / ".config" / "photod" / "examples"
    w = LibraryWatcher(library, index, extra_roots=[examples])  # created because it is missing
    w.start()
    try:
        write_bytes(examples / "Rex" / "1.jpg")
        assert jobs_after_quiet(index, 1) == [("index", str(examples / "Rex" / "1.jpg"), None)]
    finally:
        w.stop()


def test_stop_is_idempotent_and_queues_held_deletions(index, root):
    write_bytes(root / "a.jpg")
    library = LibraryConfig(roots=[root], debounce_seconds=5, settle_seconds=5)
    w = LibraryWatcher(library, index)
    w.stop()  # before start: nothing to do
    w.start()
    (root / "a.jpg").unlink()
    time.sleep(DEBOUNCE)  # the event arrives; the 5 s debounce has not passed
    w.stop()
    w.stop()
    assert queued(index) == [("delete", str(root / "a.jpg"), None)]


@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
def test_symlinked_root_and_symlink_loops(index, tmp_path, polling):
    real = tmp_path / "disk" / "photos"
    (real / "a").mkdir(parents=True)
    root = tmp_path / "Pictures"
    root.symlink_to(real)  # a common set-up: ~/Pictures -> /mnt/...
    (real / "a" / "loop").symlink_to(real)  # followed blindly: a/loop/a/loop/... forever
    (real / "b").symlink_to(real / "a")
    library = LibraryConfig(
        roots=[root], follow_symlinks=True, force_polling=polling,
        debounce_seconds=0.1, settle_seconds=0.1,
    )  # fmt: skip
    w = LibraryWatcher(library, index, poll_interval=0.1)
    w.start()
    try:
        write_bytes(real / "a" / "x.jpg")
        # Indexed under the configured root, once, by its own path (not through the links).
        assert jobs_after_quiet(index, 1) == [("index", str(root / "a" / "x.jpg"), None)]
    finally:
        w.stop()


def test_a_vanished_root_is_not_a_deleted_library(index, root, library, caplog):
    write_bytes(root / "a.jpg")
    w = LibraryWatcher(library, index)
    w.start()
    try:
        (root / "a.jpg").unlink()
        root.rmdir()
        # The photo's own deletion is real; the root's is not taken as "delete everything".
        assert jobs_after_quiet(index, 1) == [("delete", str(root / "a.jpg"), None)]
        assert any("disappeared" in r.getMessage() for r in caplog.records)
    finally:
        w.stop()
