"""A burst of new nested folders registers each folder's watch once, without warnings."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from watchdog.events import FileSystemEventHandler

from photod.watch.observers import GuardedInotifyFD, GuardedInotifyObserver


class RacingCopyFD(GuardedInotifyFD):
    """Creates a subfolder right after a new top folder's watch is added, before watchdog's
    walk lists it: what a copy in progress does now and then (6-7 times in 5,000 files)."""

    def _get_or_create_watch(self, path, mask):  # noqa: ANN001, ANN202 (watchdog's)
        watch = super()._get_or_create_watch(path, mask)
        sub = Path(path.decode()) / "day1"
        if Path(path.decode()).name.startswith("trip") and not sub.exists():
            sub.mkdir()
        return watch


class RacingCopyObserver(GuardedInotifyObserver):
    fd_class = RacingCopyFD


class Seen(FileSystemEventHandler):
    """Remembers the created paths the observer reported."""

    def __init__(self) -> None:
        self.created: set[str] = set()

    def on_created(self, event) -> None:  # noqa: ANN001 (watchdog's)
        self.created.add(event.src_path)


def test_a_burst_of_nested_folders_warns_nothing_and_misses_nothing(root: Path):
    seen = Seen()
    observer = RacingCopyObserver(lambda exc: None)
    observer.schedule(seen, str(root), recursive=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        observer.start()
        try:
            # The IN_CREATE of each day1 is still queued when the new trip folder's recursive
            # walk has already watched day1: watchdog then adds day1's watch a second time.
            for i in range(30):
                (root / f"trip{i}").mkdir()
            time.sleep(0.5)  # the observer adds each trip's watch (and day1 appears)
            for i in range(30):
                (root / f"trip{i}" / "day1" / "p.jpg").write_bytes(b"x")
            expected = {str(root / f"trip{i}/day1/p.jpg") for i in range(30)}
            deadline = time.monotonic() + 10
            while not expected <= seen.created and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            observer.stop()
            observer.join()
    assert expected <= seen.created
    repeated = [str(w.message) for w in caught if "already exists" in str(w.message)]
    assert not repeated, repeated[0]
