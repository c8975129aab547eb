"""A stand-in for a hub download (the hub cannot be reached from the test machines).

:func:`fake_hub` writes what huggingface_hub's download leaves in its cache: each file a
blob named by the SHA-256 of its content, linked from ``snapshots/<revision>/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FILES = {"config.json": b'{"model_type": "llava"}', "model.safetensors": b"\x00weights" * 1000}


def fake_hub(files: dict[str, bytes] = FILES, corrupt: str | None = None):
    """A ``download(repo_id, cache_dir)`` writing ``files``; ``corrupt`` is cut in half."""

    def download(repo_id: str, cache_dir) -> Path:
        repo = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
        snapshot = repo / "snapshots" / ("c0ffee" * 6 + "abcd")
        snapshot.mkdir(parents=True)
        (repo / "blobs").mkdir()
        for name, data in files.items():
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data[: len(data) // 2] if name == corrupt else data)
            (snapshot / name).symlink_to(Path("../..") / "blobs" / blob.name)
        return snapshot

    return download
