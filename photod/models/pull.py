"""Downloading a hub model into photod's cache, and checking what landed there.

A download goes through huggingface_hub (``snapshot_download``, or open_clip's own download
for an ``arch/pretrained`` CLIP tag), with its progress bars. The hub's cache keeps each large
(LFS) file as a blob named by the SHA-256 of its content, so :func:`verify_repo` re-hashes
every blob a snapshot points at: a truncated or corrupt download is found without the hub.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from photod.errors import ModelLoadError
from photod.models.session import HubFiles

_SHA256 = re.compile(r"[0-9a-f]{64}")

#: ``download(repo_id, cache_dir)``: fetches a hub repository into the cache folder.
Download = Callable[[str, Path], object]


def _snapshot_download(repo_id: str, cache_dir: Path) -> object:
    from huggingface_hub import snapshot_download

    return snapshot_download(repo_id, cache_dir=str(cache_dir))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_repo(repo_dir: Path) -> list[str]:
    """Problems of a cached hub repository (empty: every file is there and intact)."""
    snapshots = Path(repo_dir) / "snapshots"
    files = [p for p in snapshots.rglob("*") if not p.is_dir()] if snapshots.is_dir() else []
    if not files:
        return [f"no downloaded files in {repo_dir}"]
    problems = []
    for f in sorted(files):
        name = "/".join(f.relative_to(snapshots).parts[1:])  # without the revision folder
        if not f.exists():
            problems.append(f"{name}: missing (an interrupted download)")
            continue
        blob = f.resolve().name
        if _SHA256.fullmatch(blob) and _sha256(f) != blob:
            problems.append(f"{name}: corrupt (its SHA-256 is not the hub's)")
    problems += [
        f"{p.name}: an unfinished download" for p in (Path(repo_dir) / "blobs").glob("*.incomplete")
    ]
    return problems


def repo_bytes(repo_dir: Path) -> int:
    """Bytes a cached hub repository takes on disk (its blobs, each counted once)."""
    blobs = Path(repo_dir) / "blobs"
    return sum(p.stat().st_size for p in blobs.iterdir() if p.is_file()) if blobs.is_dir() else 0


def pull_repo(repo_id: str, cache_dir: Path, download: Download = _snapshot_download) -> Path:
    """Download hub repository ``repo_id`` into ``cache_dir`` and verify it.

    Returns the repository's cache folder; a :class:`ModelLoadError` names what is wrong with
    a download that does not verify (run the pull again: intact files are kept).
    """
    files = HubFiles(repo_id, cache_dir)
    try:
        download(files.repo, Path(cache_dir))
    except Exception as exc:
        why = " ".join(str(exc).split())
        raise ModelLoadError(f"{repo_id}: download failed ({type(exc).__name__}: {why})") from exc
    problems = verify_repo(files.path)
    if problems:
        # A corrupt blob is deleted so that the next pull fetches it again.
        for link in (Path(files.path) / "snapshots").rglob("*"):
            blob = link.resolve()
            if blob.is_file() and _SHA256.fullmatch(blob.name) and _sha256(blob) != blob.name:
                blob.unlink()
        raise ModelLoadError(f"{repo_id}: the download does not verify: " + "; ".join(problems))
    return files.path


def open_clip_repo(reference: str) -> str | None:
    """The hub repository behind an open_clip ``arch/pretrained`` tag (None: none)."""
    import open_clip

    arch, _, tag = reference.partition("/")
    cfg = open_clip.get_pretrained_cfg(arch, tag) or {}
    return (cfg.get("hf_hub") or "").strip("/") or None
