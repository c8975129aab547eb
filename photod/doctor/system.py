"""Checks of the machine: the index, the photo folders, inotify, exiftool, disk space, the
compute cluster."""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from photod.config import Config
from photod.doctor.check import FAIL, OK, WARN, Check
from photod.watch.observers import fix_for

GIB = 1 << 30


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_index(config: Config) -> Check:
    """The index file: private, readable and writable; or a folder where it can be made."""
    path = config.index_path
    if not path.exists():
        base = _existing_ancestor(path.parent)
        if os.access(base, os.W_OK | os.X_OK):
            return Check("index", OK, f"{path} (created by the first `photod scan` or `run`)")
        return Check("index", FAIL, f"{path}: {base} is not writable", f"chown $USER {base}")
    mode = path.stat().st_mode & 0o777
    if not os.access(path, os.R_OK | os.W_OK):
        return Check("index", FAIL, f"{path} is not readable and writable", f"chown $USER {path}")
    if mode & 0o077:
        return Check("index", FAIL, f"{path} is readable by others ({mode:o})", f"chmod 600 {path}")
    return Check("index", OK, f"{path} (owner-only, {path.stat().st_size / 1e6:.1f} MB)")


def check_roots(config: Config) -> Iterator[Check]:
    """Each photo folder exists and can be read."""
    for root in config.library.roots:
        if not root.exists():
            if config.library.create_missing_roots:
                yield Check("photos", WARN, f"{root} does not exist; photod creates it at start")
            else:
                yield Check("photos", FAIL, f"{root} does not exist", f"mkdir -p {root}")
        elif not os.access(root, os.R_OK | os.X_OK):
            yield Check("photos", FAIL, f"{root} cannot be read", f"chmod u+rx {root}")
        else:
            yield Check("photos", OK, str(root))


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _count_folders(roots: list[Path], follow: bool, stop: int) -> int:
    n = 0
    for root in roots:
        for _ in os.walk(root, followlinks=follow):
            n += 1
            if n > stop:  # enough to know the limit is too low
                return n
    return n


def check_inotify(config: Config) -> Check:
    """Enough inotify watches for every folder (one watch each), or polling is configured."""
    if config.library.force_polling:
        return Check("inotify", OK, "not used (library.force_polling: true)")
    watches = _read_int("/proc/sys/fs/inotify/max_user_watches")
    if watches is None:
        return Check("inotify", OK, "no inotify here: the platform's own file watching is used")
    folders = _count_folders(config.library.roots, config.library.follow_symlinks, watches)
    detail = f"{folders} folder(s) to watch, limit {watches} watches for all your programs"
    if folders > watches * 0.8:
        fix = fix_for(OSError(errno.ENOSPC, "inotify watch limit reached"))
        return Check("inotify", FAIL, detail + " (photod would fall back to polling)", fix)
    return Check("inotify", OK, detail)


def check_exiftool() -> Check:
    """exiftool reads back what photod writes into metadata (optional)."""
    found = shutil.which("exiftool")
    if found:
        return Check("exiftool", OK, found)
    return Check(
        "exiftool",
        WARN,
        "not installed: what photod writes cannot be read back to check it",
        "sudo apt install libimage-exiftool-perl",
    )


def check_disk(config: Config) -> Iterator[Check]:
    """Free space where the index and the model cache live."""
    seen = set()
    for label, path in (
        ("disk (data)", config.paths.data_dir),
        ("disk (cache)", config.paths.cache_dir),
    ):
        base = _existing_ancestor(path)
        if base.stat().st_dev in seen:
            continue
        seen.add(base.stat().st_dev)
        free = shutil.disk_usage(base).free
        detail = f"{free / GIB:.1f} GiB free at {base}"
        if free < GIB:
            yield Check(
                label, FAIL, detail, "free some space: the index and the models need a few GiB"
            )
        elif free < 5 * GIB:
            yield Check(label, WARN, detail + " (models need a few GiB)")
        else:
            yield Check(label, OK, detail)


def check_compute(config: Config) -> Iterator[Check]:
    """With ``compute.backend: ray``: Ray installed, and the cluster answering."""
    compute = config.compute
    if compute.backend != "ray":
        return
    from photod.compute.cluster import ComputeError, check_reachable

    if importlib.util.find_spec("ray") is None:
        yield Check("compute", FAIL, "compute.backend is ray but Ray is not installed",
                    "pip install 'photod[ray]'")  # fmt: skip
        return
    try:
        check_reachable(compute.address)
    except ComputeError as exc:
        then = "the models run here" if compute.on_unreachable == "local" else "photod waits"
        fix = "start the cluster (`ray start --head`, docs/scale.md) or fix compute.address"
        yield Check("compute", WARN, f"{exc}; until it answers {then}", fix)
        return
    yield Check("compute", OK, f"Ray cluster: {compute.address}")
