"""Every model session of one photod process, unloaded when idle by a tick that takes ``now``.

The daemon's loop calls :meth:`ModelSessions.tick` with ``time.monotonic()``; tests call it
with any time they like, so no clock is patched. After a model is unloaded the freed memory
is given back to the operating system (:func:`photod.models.memory.release_memory`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from photod.models.memory import release_memory
from photod.models.session import ModelSession

log = logging.getLogger(__name__)


class ModelSessions:
    """A registry of model sessions with an idle time-to-live per session."""

    def __init__(self, release: Callable[[], None] = release_memory) -> None:
        self._release = release
        self._sessions: list[ModelSession] = []
        self._lock = threading.Lock()

    def add(self, session: ModelSession) -> ModelSession:
        """Track ``session`` (returned, so that a builder can add and keep it in one line)."""
        with self._lock:
            if not any(s is session for s in self._sessions):
                self._sessions.append(session)
        return session

    @property
    def sessions(self) -> list[ModelSession]:
        """The tracked sessions, in the order they were added."""
        with self._lock:
            return list(self._sessions)

    def loaded(self) -> list[str]:
        """Names of the sessions whose model is in memory."""
        return [s.name for s in self.sessions if s.loaded]

    def tick(self, now: float) -> list[str]:
        """Unload every session idle for its time-to-live at ``now``; return their names."""
        unloaded = [s.name for s in self.sessions if s.unload_if_idle(now)]
        if unloaded:
            self._release()
            log.info("idle models unloaded: %s", ", ".join(unloaded))
        return unloaded

    def close(self) -> None:
        """Unload every model and give the memory back."""
        if any([s.unload() for s in self.sessions]):
            self._release()
