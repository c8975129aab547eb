"""The start-up mark-and-sweep on real folders and a real index."""

from __future__ import annotations

import os
import threading

import pytest
from watch_helpers import queued, write_bytes

from photod.config import LibraryConfig
from photod.fsutil import stat_version
from photod.index.photos import record_failure
from photod.watch.reconcile import reconcile


def add_row(index, path, *, stat=None, status="indexed") -> None:
    """An indexed photo row: with the file's stat, or an explicit (size, mtime_ns)."""
    size, mtime = stat or (os.stat(path).st_size, os.stat(path).st_mtime_ns)
    row = {"path": str(path), "size": size, "mtime_ns": mtime, "status": status}
    index.write(lambda db: db["photos"].insert(row))


def test_new_changed_unchanged_deleted(index, root, library):
    new = write_bytes(root / "new.jpg")
    changed = write_bytes(root / "album" / "changed.png")
    same = write_bytes(root / "album" / "same.jpg")
    add_row(index, changed, stat=(1, 1))
    add_row(index, same)
    add_row(index, root / "gone.jpg", stat=(1, 1))
    add_row(index, root / "long-gone.jpg", stat=(1, 1), status="missing")  # swept already
    result = reconcile(index, library)
    assert (result.seen, result.queued, result.deleted) == (3, 2, 1)
    assert queued(index) == [
        ("index", str(new), None),  # a folder's files, then its subfolders
        ("index", str(changed), None),
        ("delete", str(root / "gone.jpg"), None),
    ]


def test_ignored_names_are_not_seen(index, root, library):
    for name in (
        ".hidden.jpg",
        ".thumbnails/t.jpg",
        "@eaDir/a.jpg/SYNOPHOTO.jpg",
        "a.xmp",
        "a.jpg.photod-tmp1",
        "notes.txt",
        "#recycle/old.jpg",
        "album/.cache/x.jpg",
    ):
        write_bytes(root / name)
    write_bytes(root / "album" / "a.JPG")  # extensions match in any case
    assert reconcile(index, library).seen == 1
    assert queued(index) == [("index", str(root / "album" / "a.JPG"), None)]


def test_failed_and_unchanged_is_left_alone_changed_is_retried(index, root, library):
    bad = write_bytes(root / "bad.jpg", b"truncated")
    worse = write_bytes(root / "worse.jpg", b"truncated")
    v = stat_version(os.stat(bad))
    index.write(lambda db: record_failure(db, str(bad), "ingest", "truncated", version=v))
    index.write(lambda db: record_failure(db, str(worse), "ingest", "truncated", version=v))
    with worse.open("ab") as fh:  # the user replaced it (different size now)
        fh.write(b" and fixed")
    reconcile(index, library)
    assert queued(index) == [("index", str(worse), None)]
    reconcile(index, library, force=True)  # `photod scan --force` retries everything
    assert {p for _, p, _ in queued(index)} == {str(bad), str(worse)}


def test_non_utf8_names_are_recorded_once(index, root, library):
    with open(os.path.join(os.fsencode(root), b"caf\xe9.jpg"), "wb") as fh:
        fh.write(b"x")
    assert reconcile(index, library).unreadable == 1
    reconcile(index, library)
    rows = index.write(
        lambda db: db.conn.execute("SELECT path, attempts, reason FROM failures").fetchall()
    )
    assert rows == [
        (str(root / "caf\\xe9.jpg"), 1, "file name is not valid UTF-8; rename the file to index it")
    ]
    assert queued(index) == []


@pytest.mark.parametrize("follow", [True, False])
def test_symlink_loop(index, root, follow):
    photo = write_bytes(root / "a" / "1.jpg")
    os.symlink(root, root / "a" / "loop")  # a/loop/a/loop/... forever, if followed blindly
    os.symlink(root / "a", root / "b")  # the same folder twice
    library = LibraryConfig(roots=[root], follow_symlinks=follow)
    result = reconcile(index, library)
    # Each folder is walked once: the photo is seen under one name, whichever comes first.
    assert result.seen == 1
    assert queued(index) == [("index", str(photo), None)]


def test_missing_root_is_not_swept(index, tmp_path, root, library):
    add_row(index, root / "a.jpg", stat=(1, 1))
    root.rmdir()  # e.g. the disk is not mounted
    result = reconcile(index, library)
    assert (result.seen, result.deleted) == (0, 0)
    assert queued(index) == []
    # An explicit path that is gone is swept (`photod scan` of a deleted folder).
    assert reconcile(index, library, paths=[root]).deleted == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any folder")
def test_unlistable_folder_is_not_swept(index, root, library):
    locked = write_bytes(root / "locked" / "a.jpg")
    add_row(index, locked)
    (root / "locked").chmod(0)
    try:
        assert reconcile(index, library).deleted == 0
    finally:
        (root / "locked").chmod(0o755)


def test_paths_limit_the_walk_and_the_sweep(index, root, library):
    write_bytes(root / "a" / "1.jpg")
    one = write_bytes(root / "b" / "2.jpg")
    add_row(index, root / "a" / "gone.jpg", stat=(1, 1))
    result = reconcile(index, library, paths=[one])  # a single file: nothing swept
    assert (result.seen, result.deleted) == (1, 0)
    result = reconcile(index, library, paths=[root / "a"])
    assert (result.seen, result.deleted) == (1, 1)


def test_cancel_sweeps_nothing(index, root, library):
    write_bytes(root / "1.jpg")
    add_row(index, root / "gone.jpg", stat=(1, 1))
    cancel = threading.Event()
    cancel.set()
    assert reconcile(index, library, cancel=cancel).deleted == 0
    assert queued(index) == []


def test_failure_records_of_deleted_files_are_swept(tmp_path):
    from photod.config import LibraryConfig
    from photod.index import Index
    from photod.index.photos import record_failure
    from photod.watch.reconcile import reconcile

    root = tmp_path / "photos"
    root.mkdir()
    bad = root / "bad.jpg"
    bad.write_bytes(b"not a photo")
    other = root / "other.jpg"
    other.write_bytes(b"also not")
    library = LibraryConfig(roots=[root])
    with Index(tmp_path / "i.sqlite") as index:
        for f in (bad, other):
            v = stat_version(f.stat())
            index.write(lambda db, f=f, v=v: record_failure(db, str(f), "ingest", "x", version=v))
        bad.unlink()
        reconcile(index, library)
        left = index.write(lambda db: [r[0] for r in db.execute("SELECT path FROM failures")])
    assert left == [str(other)]  # the unchanged failed file keeps its record
