"""The lazy model session every model of photod goes through: load, use, unload.

A :class:`ModelSession` loads its model on first use, records when it was last used, and can
be unloaded (by :class:`photod.models.cache.ModelSessions` when idle) and loaded again later.
A model whose cached files are corrupt is loaded a second time after its files are deleted
and fetched once more (:class:`ModelFiles`); a second failure is a :class:`ModelLoadError`.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from photod.errors import ModelLoadError

log = logging.getLogger(__name__)

M = TypeVar("M")


class ModelFiles(Protocol):
    """Where a model's fetched files are cached, and how to fetch them again.

    Only files photod fetched itself are ever deleted: a model folder the user points at
    has no ``ModelFiles``.
    """

    #: The folder (or file) holding the fetched copy; deleted when the model is corrupt.
    path: Path

    def fetch(self) -> None:
        """Put the model's files at ``path`` (a loader that downloads what is missing may
        leave this empty: it fetches on the next load)."""


class HubFiles:
    """A Hugging Face hub repository cached under ``cache_dir`` (the loader downloads it)."""

    def __init__(self, repo: str, cache_dir: Path) -> None:
        self.repo = repo.strip("/")
        self.path = Path(cache_dir) / ("models--" + self.repo.replace("/", "--"))

    def fetch(self) -> None:
        """Nothing to do here: ``from_pretrained`` / open_clip download a missing repository."""


class CopiedFiles:
    """A model copied from a local mirror folder (a shared drive, a USB disk, a test)."""

    def __init__(self, source: Path, path: Path) -> None:
        self.source = Path(source)
        self.path = Path(path)

    def fetch(self) -> None:
        """Copy the mirror's files into ``path``."""
        shutil.copytree(self.source, self.path, dirs_exist_ok=True)


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def parameter_bytes(model: Any) -> int:
    """Bytes a torch module's parameters hold (what a session's :meth:`memory_bytes` reports)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


class ModelSession(ABC, Generic[M]):
    """One model: loaded on first :meth:`use`, unloadable, reloaded when needed again.

    Subclasses implement :meth:`_load` and their own predict method(s) on top of
    :meth:`use`. ``idle_unload_seconds`` (0: never) is how long the model may stay unused
    before :meth:`unload_if_idle` frees it; a model in use is never unloaded.
    """

    def __init__(
        self, name: str, *, idle_unload_seconds: float = 0, files: ModelFiles | None = None
    ) -> None:
        self.name = name
        self.idle_unload_seconds = idle_unload_seconds
        self._files = files
        self.last_used = 0.0
        self._lock = threading.RLock()
        self._model: M | None = None
        self._busy = 0

    @abstractmethod
    def _load(self) -> M:
        """Build the model (raise on failure; a corrupt cache is handled by the caller)."""

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._model is not None

    def memory_bytes(self) -> int | None:
        """What the loaded model holds in memory, when it is cheap to tell (else None)."""
        return None

    def _check_available(self) -> None:
        """Raise :class:`ModelLoadError` at once when the model cannot load (say, it is not
        cached and the hub cannot be reached), before anything is fetched or imported."""

    def model_files(self) -> ModelFiles | None:
        """The fetched files to delete and fetch again when the model is corrupt (None:
        nothing photod fetched itself, so nothing is ever deleted)."""
        return self._files

    def load(self) -> M:
        """The model, loaded if it is not (thread-safe: two callers load it once)."""
        with self._lock:
            if self._model is None:
                self._model = self._load_once_more_if_corrupt()
            self.last_used = time.monotonic()
            return self._model

    def _load_once_more_if_corrupt(self) -> M:
        self._check_available()
        files = self.model_files()
        if files is not None and not files.path.exists():
            files.fetch()
        try:
            return self._load()
        except ModelLoadError as exc:
            first: Exception = exc
        except Exception as exc:  # a truncated file fails in whatever library reads it
            first = exc
        if files is None or not files.path.exists():
            raise first
        log.warning(
            "model %s failed to load (%s); deleting %s and fetching it once more",
            self.name,
            first,
            files.path,
        )
        _delete(files.path)
        files.fetch()
        try:
            return self._load()
        except Exception as exc:
            raise ModelLoadError(
                f"model {self.name} failed to load again after a fresh fetch: {exc}"
            ) from exc

    @contextmanager
    def use(self) -> Iterator[M]:
        """The loaded model, kept from idle unloading until the block ends."""
        with self._lock:
            model = self.load()
            self._busy += 1
        try:
            yield model
        finally:
            with self._lock:
                self._busy -= 1
                self.last_used = time.monotonic()

    def unload(self) -> bool:
        """Drop the model (it loads again on the next use); True if it was loaded."""
        with self._lock:
            if self._model is None:
                return False
            self._model = None
            log.info("model %s unloaded", self.name)
            return True

    def unload_if_idle(self, now: float) -> bool:
        """Unload the model if it has not been used for ``idle_unload_seconds`` by ``now``
        (a ``time.monotonic()`` value); True if it was unloaded."""
        with self._lock:
            if (
                self._model is None
                or not self.idle_unload_seconds
                or self._busy
                or now - self.last_used < self.idle_unload_seconds
            ):
                return False
            return self.unload()

    def close(self) -> None:
        """Free the model."""
        self.unload()
