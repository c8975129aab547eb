"""Falling back to polling when inotify runs out of watches, and ``force_polling``.

Two ways to run out are used:
- *simulated*: an inotify instance whose ``inotify_add_watch`` refuses after N watches with the
  exact error watchdog raises for ENOSPC. Everything above that call (watchdog's recursive
  watch registration, photod's guard, the fallback) is the real code. Lowering the real limit
  needs root (``fs.inotify.max_user_watches`` is a global sysctl), hence the simulation.
- *real*: in a user namespace (``unshare -Ur``, no privileges needed where the kernel allows
  them) the namespace's own ``/proc/sys/user/max_inotify_watches`` can be lowered, and the
  kernel itself refuses the watches. Skipped where user namespaces are not available.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from watch_helpers import jobs_after_quiet, queued, wait_for, write_bytes

from photod.config import LibraryConfig
from photod.watch.observers import GuardedInotifyFD, GuardedInotifyObserver
from photod.watch.watcher import LibraryWatcher

FIX = "sysctl fs.inotify.max_user_watches=524288"


def limited_inotify(budget: int) -> type[GuardedInotifyObserver]:
    """An inotify observer class whose instance refuses more than ``budget`` watches."""

    class LimitedFD(GuardedInotifyFD):
        def _get_or_create_watch(self, path, mask):
            if len(self._watch_for_wd) >= budget:  # what the kernel says once the limit is hit
                raise OSError(errno.ENOSPC, "inotify watch limit reached")
            return super()._get_or_create_watch(path, mask)

    return type("LimitedObserver", (GuardedInotifyObserver,), {"fd_class": LimitedFD})


def warnings_of(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "photod.watch.watcher" and r.levelno >= logging.WARNING
    ]


def test_root_refused_falls_back_with_one_warning(index, root, tmp_path, caplog):
    other = tmp_path / "more-photos"
    library = LibraryConfig(roots=[root, other], debounce_seconds=0.1, settle_seconds=0.1)
    w = LibraryWatcher(library, index, poll_interval=0.1, observer_factory=limited_inotify(0))
    with caplog.at_level(logging.INFO, logger="photod.watch"):
        w.start()
    try:
        assert w.polling_roots == [root, other]
        (warning,) = warnings_of(caplog)  # one warning, not one per root
        assert str(root) in warning and FIX in warning and "/etc/sysctl.d/" in warning
        write_bytes(root / "a.jpg")
        write_bytes(other / "b.jpg")
        assert set(jobs_after_quiet(index, 2)) == {
            ("index", str(root / "a.jpg"), None),
            ("index", str(other / "b.jpg"), None),
        }
        os.rename(root / "a.jpg", root / "c.jpg")  # polling sees moves too (by inode)
        wait_for(lambda: len(queued(index)) == 3)
        assert queued(index)[2] == ("move", str(root / "c.jpg"), {"src": str(root / "a.jpg")})
    finally:
        w.stop()


def test_subfolder_refused_at_start_falls_back(index, root, caplog):
    # watchdog itself skips a subfolder it cannot watch without a word: the guard notices.
    for i in range(4):
        (root / f"album{i}").mkdir()
    library = LibraryConfig(roots=[root], debounce_seconds=0.1, settle_seconds=0.1)
    w = LibraryWatcher(library, index, poll_interval=0.1, observer_factory=limited_inotify(2))
    w.start()
    try:
        assert w.polling_roots == [root]
        assert len(warnings_of(caplog)) == 1
        write_bytes(root / "album3" / "a.jpg")
        assert jobs_after_quiet(index, 1) == [("index", str(root / "album3" / "a.jpg"), None)]
    finally:
        w.stop()


def test_folder_created_later_refused_falls_back_and_catches_up(index, root, caplog):
    (root / "old").mkdir()
    library = LibraryConfig(roots=[root], debounce_seconds=0.1, settle_seconds=0.1)
    w = LibraryWatcher(library, index, poll_interval=0.1, observer_factory=limited_inotify(2))
    w.start()
    try:
        assert w.polling_roots == []  # root and old/ fit
        (root / "new").mkdir()  # its watch is refused
        write_bytes(root / "new" / "a.jpg")
        wait_for(lambda: w.polling_roots == [root])
        assert jobs_after_quiet(index, 1) == [("index", str(root / "new" / "a.jpg"), None)]
        write_bytes(root / "new" / "b.jpg")  # and the polling observer sees later changes
        wait_for(lambda: ("index", str(root / "new" / "b.jpg"), None) in queued(index))
        assert len(warnings_of(caplog)) == 1
    finally:
        w.stop()


def test_force_polling(index, root, caplog):
    library = LibraryConfig(
        roots=[root], debounce_seconds=0.1, settle_seconds=0.1, force_polling=True
    )
    w = LibraryWatcher(library, index, poll_interval=0.1)
    w.start()
    try:
        assert w.polling_roots == [root]
        assert warnings_of(caplog) == []  # asked for: nothing to warn about
        write_bytes(root / "sub" / "a.jpg")
        assert jobs_after_quiet(index, 1) == [("index", str(root / "sub" / "a.jpg"), None)]
        (root / "sub" / "a.jpg").unlink()
        wait_for(lambda: len(queued(index)) == 2)
        assert queued(index)[1] == ("delete", str(root / "sub" / "a.jpg"), None)
    finally:
        w.stop()


REAL_SCRIPT = textwrap.dedent(
    """
    import json, logging, sys, time
    from pathlib import Path
    from photod.config import LibraryConfig
    from photod.index import Index
    from photod.watch.watcher import LibraryWatcher

    logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
    root, db = Path(sys.argv[1]), Path(sys.argv[2])
    lib = LibraryConfig(roots=[root], debounce_seconds=0.1, settle_seconds=0.1)
    with Index(db) as index:
        w = LibraryWatcher(lib, index, poll_interval=0.1)
        w.start()
        (root / "album5" / "a.jpg").write_bytes(b"x")
        deadline = time.monotonic() + 10
        jobs = []
        while not jobs and time.monotonic() < deadline:
            time.sleep(0.05)
            jobs = index.write(lambda db: db.conn.execute("SELECT kind, path FROM jobs").fetchall())
        print(json.dumps({"polling": [str(p) for p in w.polling_roots], "jobs": jobs}))
        w.stop()
    """
)


def test_real_watch_limit_in_a_user_namespace(tmp_path, root):
    limit = "/proc/sys/user/max_inotify_watches"
    probe = f"echo 3 > {limit}"
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1)")
    if subprocess.run(["unshare", "-Ur", "sh", "-c", probe], capture_output=True).returncode:
        pytest.skip("unprivileged user namespaces (or their inotify limit) are not available")
    for i in range(6):
        (root / f"album{i}").mkdir()
    script = tmp_path / "real_limit.py"
    script.write_text(REAL_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    shell = f'echo 3 > {limit} && exec "$0" "$@"'
    out = subprocess.run(
        [
            "unshare",
            "-Ur",
            "sh",
            "-c",
            shell,
            sys.executable,
            str(script),
            str(root),
            str(tmp_path / "index.sqlite"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["polling"] == [str(root)]  # 7 folders, 3 watches allowed: the kernel refused
    assert result["jobs"] == [["index", str(root / "album5" / "a.jpg")]]
    assert FIX in out.stderr and "/etc/sysctl.d/" in out.stderr
    assert out.stderr.count("falling back to polling") == 1


def test_restart_after_stop_decides_afresh(index, root):
    library = LibraryConfig(roots=[root], debounce_seconds=0.1, settle_seconds=0.1)
    w = LibraryWatcher(library, index, poll_interval=0.1, observer_factory=limited_inotify(0))
    w.start()
    assert w.polling_roots == [root]
    w.stop()
    assert w.polling_roots == []
    w.start()
    try:
        assert w.polling_roots == [root]
        write_bytes(root / "a.jpg")
        assert jobs_after_quiet(index, 1) == [("index", str(root / "a.jpg"), None)]
    finally:
        w.stop()
