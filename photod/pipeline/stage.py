"""The stage interface every pipeline stage implements (built-in or plugin).

The built-in stages run in the order :func:`photod.app.build_stages` writes out: ingest ->
heads -> personalize -> index (the photo's commit). A plugin stage *class* is registered
through the ``photod_stages`` plugin hook and names its :data:`SLOTS` entry (``slot``): it runs
right after that built-in stage, plugin stages of one slot in registration order. At start-up
photod calls ``StageClass.create(app)`` once with the host :class:`photod.app.App`; it returns
a ready stage, or ``None`` when the configuration turns the stage off. Model loading belongs
in the stage's lazily created sessions, not in ``create``, so that start-up stays fast.

Work on the committed result (metadata write-back) is a listener, not a stage (see
:mod:`photod.pipeline.events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from photod.app import App
    from photod.pipeline.task import PhotoTask

#: Where a plugin stage may run: after ingest (the decoded image), after the heads (the
#: detections), or after personalize (the captions), always before the index commit.
SLOTS = ("after_ingest", "after_heads", "after_personalize")


@runtime_checkable
class Stage(Protocol):
    """One step of the per-photo pipeline."""

    name: ClassVar[str]
    #: Worker threads for this stage (I/O- or GIL-releasing work can use more than one).
    workers: ClassVar[int]
    #: Whether the stage also runs on photos whose content did not change (``task.unchanged``).
    runs_on_unchanged: ClassVar[bool]
    #: Up to this many waiting photos go to ``process_batch`` together (1: no batching).
    batch_size: int

    def process(self, task: PhotoTask) -> None:
        """Do this stage's work on ``task`` in place; raise :class:`PhotoError` to fail it."""

    def process_batch(self, tasks: Sequence[PhotoTask]) -> None:
        """Do the work on several tasks at once; all or nothing (raise without changes)."""

    def close(self) -> None:
        """Release models and files (called once at shutdown)."""


class BaseStage:
    """Convenient defaults for a stage: one worker, skips unchanged photos, nothing to close."""

    name: ClassVar[str] = "stage"
    #: A plugin stage's place in the pipeline (one of :data:`SLOTS`).
    slot: ClassVar[str] = "after_personalize"
    workers: ClassVar[int] = 1
    runs_on_unchanged: ClassVar[bool] = False
    batch_size: int = 1  # a stage that raises it implements process_batch

    @classmethod
    def create(cls, app: App) -> BaseStage | None:
        """Build a plugin stage from the host app, or return None when it is configured off."""
        return cls()

    def process(self, task: PhotoTask) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""
