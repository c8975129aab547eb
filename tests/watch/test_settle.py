"""The settler's bookkeeping, driven by explicit times (no sleeping) over real files."""

from __future__ import annotations

import os

from watch_helpers import write_bytes

from photod.index import jobs
from photod.watch.settle import MAX_HOLD, Op, Ready, Settler, collapse


def stat_of(path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def test_debounce_then_settle(tmp_path):
    photo = write_bytes(tmp_path / "a.jpg")
    s = Settler(debounce=1.0, settle=2.0)
    s.change(str(photo), now=0.0)
    assert s.due(0.5) == ([], [])  # still debouncing: not even stat'ed
    assert s.due(1.0) == ([], [])  # first look: unchanged since... now
    assert s.next_check(1.0) == s.recheck
    assert s.due(2.9) == ([], [])
    assert s.due(3.0) == ([], [Ready(str(photo), stat_of(photo))])
    assert s.pending() == 0 and s.next_check(3.0) is None


def test_a_growing_file_is_not_ready(tmp_path):
    photo = write_bytes(tmp_path / "a.jpg", b"1")
    s = Settler(debounce=0.0, settle=1.0)
    s.change(str(photo), now=0.0)
    assert s.due(0.0) == ([], [])
    with photo.open("ab") as fh:  # grows without an event reaching the settler
        fh.write(b"more")
    assert s.due(1.5) == ([], [])  # changed since the last look: the settle time restarts
    assert s.due(2.4) == ([], [])
    assert s.due(2.5) == ([], [Ready(str(photo), stat_of(photo))])


def test_new_event_restarts_debounce_and_settle(tmp_path):
    photo = write_bytes(tmp_path / "a.jpg")
    s = Settler(debounce=1.0, settle=1.0)
    s.change(str(photo), now=0.0)
    s.due(1.0)
    s.change(str(photo), now=1.5)  # written again, same size and mtime granule maybe
    assert s.due(2.2) == ([], [])  # debouncing again
    assert s.due(2.5) == ([], [])  # stat'ed afresh
    assert s.due(3.5)[1] == [Ready(str(photo), stat_of(photo))]


def test_zero_settle_vanished_files_folders_and_links(tmp_path):
    photo = write_bytes(tmp_path / "a.jpg")
    dangling = tmp_path / "link.jpg"
    dangling.symlink_to(tmp_path / "nowhere.jpg")
    s = Settler(debounce=0.0, settle=0.0)
    for path in (photo, tmp_path / "gone.jpg", tmp_path, dangling):
        s.change(str(path), now=0.0)
    # Gone files and folders named like photos are dropped; a dangling link goes to ingest
    # (which records why it fails), identified by the link's own stat.
    lst = os.lstat(dangling)
    assert s.due(0.0) == (
        [],
        [Ready(str(photo), stat_of(photo)), Ready(str(dangling), (lst.st_size, lst.st_mtime_ns))],
    )
    assert s.pending() == 0


def test_moves_carry_pending_changes_and_deletes_drop_them():
    s = Settler(debounce=1.0, settle=1.0)
    s.change("/r/album/a.jpg", now=0.0)
    s.change("/r/album/sub/b.jpg", now=0.0)
    s.change("/r/albumx/c.jpg", now=0.0)  # shares a prefix, not the folder
    s.move("/r/album", "/r/trip", now=0.1, is_dir=True)
    s.delete("/r/albumx", now=0.2, is_dir=True)
    assert s.pending() == 4  # two changes (moved) + two ops
    ops, _ = s.due(0.25)
    assert ops == []  # the burst is not over yet
    ops, ready = s.due(1.3)
    assert ops == [
        Op(jobs.MOVE, "/r/trip", src="/r/album", is_dir=True),
        Op(jobs.DELETE, "/r/albumx", is_dir=True),
    ]
    assert ready == [] and s.pending() == 0  # the moved paths do not exist: dropped


def test_collapse_drops_what_a_folder_op_implies():
    ops = [
        Op(jobs.MOVE, "/r/b/1.jpg", src="/r/a/1.jpg"),  # polling reports files first
        Op(jobs.MOVE, "/r/b", src="/r/a", is_dir=True),
        Op(jobs.MOVE, "/r/b/s", src="/r/a/s", is_dir=True),
        Op(jobs.MOVE, "/r/b/s/2.jpg", src="/r/a/s/2.jpg"),
        Op(jobs.MOVE, "/r/c/3.jpg", src="/r/a/3.jpg"),  # a different move: kept
        Op(jobs.DELETE, "/r/d/4.jpg"),  # rm -r: files, then the folder
        Op(jobs.DELETE, "/r/d", is_dir=True),
        Op(jobs.DELETE, "/r/dd.jpg"),
    ]
    assert collapse(ops) == [ops[1], ops[4], ops[6], ops[7]]


def test_a_stream_of_moves_is_flushed_after_max_hold():
    s = Settler(debounce=1.0, settle=1.0)
    t = 0.0
    while t < MAX_HOLD:
        s.delete(f"/r/{t}.jpg", now=t)
        assert s.due(t)[0] == []
        t += 0.5
    assert len(s.due(t)[0]) == MAX_HOLD / 0.5
