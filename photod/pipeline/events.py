"""Work that reacts to a committed photo: listeners, called once its results are in the index.

The built-in metadata write-back is built by the composition root; a plugin listener class
is registered through the ``photod_listeners`` plugin hook and built once with
``ListenerClass.create(app)`` (None: configured off), like a plugin stage. After the index
stage committed a photo, :func:`notify_committed` calls every listener's ``committed(task)``
in registration order. A listener reads what the index now holds (``task.photo_id``); its
failure is recorded as the photo's failure (``stage`` = the listener's name), as a stage's is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from photod.pipeline.runner import guarded
from photod.pipeline.task import PhotoTask


@runtime_checkable
class CommitListener(Protocol):
    """Called after a photo's results are committed (e.g. metadata write-back)."""

    name: ClassVar[str]

    def committed(self, task: PhotoTask) -> None:
        """React to the committed photo; raise :class:`PhotoError` to record a failure."""

    def close(self) -> None:
        """Release files and models (called once at shutdown)."""


def notify_committed(listeners: Sequence[CommitListener], task: PhotoTask) -> None:
    """Tell the listeners that ``task``'s new results are committed.

    Photos that failed, or whose content did not change (their results, and so what a
    listener would do, are as before), are not announced. Every listener runs; the first
    failure becomes the task's error.
    """
    if not task.ok or task.photo_id is None or task.unchanged:
        return
    error = None
    for listener in listeners:
        guarded(listener.name, listener.committed, task)
        error = error or task.error
        task.error = None
    task.error = error
