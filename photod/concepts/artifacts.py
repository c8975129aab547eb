"""Trained concept versions on disk: ``<data_dir>/concepts/<id>/v<N>/`` (owner-only).

Each version is a folder with ``head.safetensors`` (the tensors), ``meta.json`` (threshold,
head model, metrics) and whatever else belongs to that version (the concept's VLM embeddings
in ``vlm/``, written by the ``fill`` callback of :meth:`ArtifactStore.write`). It is written
under a temporary name, flushed, and renamed into place; versions are never modified
afterwards. Which version is *active* is the concept row's
``version`` in the index, switched in one transaction after the folder exists: a training
killed at any point leaves the previous version active, and at worst an unreferenced folder
that :meth:`ArtifactStore.prune` removes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from photod.index.db import ensure_private_dir

log = logging.getLogger(__name__)

TENSORS, META = "head.safetensors", "meta.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArtifactStore:
    """Versioned, immutable head artifacts of every concept."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def concept_dir(self, concept_id: int) -> Path:
        """The folder of one concept's versions."""
        return self.root / str(concept_id)

    def version_dir(self, concept_id: int, version: int) -> Path:
        """The folder of one version (``<root>/<id>/v<N>``)."""
        return self.concept_dir(concept_id) / f"v{version}"

    def versions(self, concept_id: int) -> list[int]:
        """Complete versions on disk, ascending."""
        d = self.concept_dir(concept_id)
        if not d.is_dir():
            return []
        return sorted(int(p.name[1:]) for p in d.iterdir() if p.name[1:].isdigit())

    def next_version(self, concept_id: int, active: int) -> int:
        """A version number no folder uses yet (an orphan of a killed run is never reused)."""
        return max([active, *self.versions(concept_id)]) + 1

    def write(
        self,
        concept_id: int,
        version: int,
        tensors: dict[str, np.ndarray],
        meta: dict[str, Any],
        fill: Callable[[Path], dict[str, Any]] | None = None,
    ) -> Path:
        """Write version ``version`` atomically; return its folder.

        ``fill(folder)`` writes further files of the version into the temporary folder before
        the rename (so they appear atomically with the rest); what it returns is merged into
        ``meta``. If it raises, nothing is renamed into place.
        """
        from safetensors.numpy import save_file

        ensure_private_dir(self.root)
        cdir = ensure_private_dir(self.concept_dir(concept_id))
        final = self.version_dir(concept_id, version)
        tmp = cdir / f".v{version}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(mode=0o700)
        try:
            if fill is not None:
                meta = {**meta, **fill(tmp)}
            arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
            save_file(arrays, str(tmp / TENSORS))
            (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for f in sorted(p for p in tmp.rglob("*") if p.is_file()):
            os.chmod(f, 0o600)
            fd = os.open(f, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        for d in sorted(p for p in tmp.rglob("*") if p.is_dir()):
            os.chmod(d, 0o700)
            _fsync_dir(d)
        os.rename(tmp, final)  # atomic; fails if a folder of that name exists
        _fsync_dir(cdir)
        return final

    def load(self, concept_id: int, version: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The tensors and metadata of one version."""
        from safetensors.numpy import load_file

        d = self.version_dir(concept_id, version)
        return load_file(str(d / TENSORS)), json.loads((d / META).read_text())

    def prune(self, concept_id: int, active: int, previous: int = 0) -> None:
        """Keep the active and the previous version (for a rollback); remove the others,
        temporary folders and orphans of killed runs included."""
        d = self.concept_dir(concept_id)
        if not d.is_dir():
            return
        for p in d.iterdir():
            if p.name.startswith(".v") and ".tmp-" in p.name:
                shutil.rmtree(p, ignore_errors=True)
        for v in self.versions(concept_id):
            if v not in (active, previous):
                shutil.rmtree(self.version_dir(concept_id, v), ignore_errors=True)

    def remove(self, concept_id: int) -> None:
        """Delete every version of a removed concept."""
        shutil.rmtree(self.concept_dir(concept_id), ignore_errors=True)
