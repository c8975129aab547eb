"""What travels to a compute worker and back: one :class:`WorkItem` and one :class:`WorkResult`
per photo, and :func:`run_items`, the model half of the pipeline that turns the one into the
other (run by a Ray worker, or in this process when the cluster cannot be reached).

An item is keyed by the photo's path, content hash and version (size, mtime): the result
carries the same key, so the driver can tell a result for a photo that changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from photod.errors import PhotoError
from photod.index.jobs import Job
from photod.ingest.decode import DecodeLimits, decode_bytes
from photod.pipeline.runner import run_stage, run_stage_batch
from photod.pipeline.stage import Stage
from photod.pipeline.task import Answer, Caption, Detection, Face, PhotoInfo, PhotoTask, Tag

#: Where the driver's read stage leaves the file's bytes on the task.
DATA = "photod.compute.data"


@dataclass
class WorkItem:
    """One photo to decode and run the models on."""

    job: Job
    path: str
    data: bytes
    content_hash: str
    size: int
    mtime_ns: int
    unchanged: bool
    #: Concept ids the user said are not in this content (they never fire here).
    rejected: frozenset[int] = frozenset()


@dataclass
class WorkResult:
    """Everything the models found in one photo, keyed like its item."""

    path: str
    content_hash: str
    version: tuple[int, int]
    info: PhotoInfo | None = None
    faces: list[Face] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    captions: list[Caption] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    #: Numeric shared features (the CLIP embedding), for the driver's embedding cache.
    features: dict[str, np.ndarray] = field(default_factory=dict)
    #: (message, stage) of the photo's error; a PhotoError is rebuilt from it by the driver.
    error: tuple[str, str] | None = None
    #: The worker's model versions (see :func:`photod.compute.worker.model_versions`).
    versions: dict[str, str] = field(default_factory=dict)


def item_of(task: PhotoTask, rejected: frozenset[int] = frozenset()) -> WorkItem:
    """The work item of a task the driver has read (``task.extras[DATA]``, ``task.info``)."""
    info = task.info
    assert info is not None, "the read stage fills task.info before the models run"
    return WorkItem(
        job=task.job,
        path=str(task.path),
        data=task.extras[DATA],
        content_hash=info.content_hash,
        size=info.size,
        mtime_ns=info.mtime_ns,
        unchanged=task.unchanged,
        rejected=rejected,
    )


def run_items(
    stages: Sequence[Stage], items: Sequence[WorkItem], limits: DecodeLimits
) -> list[WorkResult]:
    """Decode each item, run ``stages`` on them (batched as the threaded pipeline batches) and
    return one result per item, in order."""
    tasks = [_decoded(item, limits) for item in items]
    for stage in stages:
        if int(getattr(stage, "batch_size", 1)) > 1:
            run_stage_batch(stage, tasks)
        else:
            for task in tasks:
                run_stage(stage, task)
    return [_result(task, item) for task, item in zip(tasks, items, strict=True)]


def _decoded(item: WorkItem, limits: DecodeLimits) -> PhotoTask:
    task = PhotoTask(job=item.job, path=Path(item.path), unchanged=item.unchanged)
    try:
        info, image, _ = decode_bytes(item.data, limits)
    except PhotoError as exc:
        task.error = exc
        return task
    info.content_hash, info.size, info.mtime_ns = item.content_hash, item.size, item.mtime_ns
    task.info, task.image = info, image
    return task


def _result(task: PhotoTask, item: WorkItem) -> WorkResult:
    features: dict[str, Any] = {
        k: np.asarray(v) for k, v in task.features.items() if isinstance(v, np.ndarray)
    }
    return WorkResult(
        path=item.path,
        content_hash=item.content_hash,
        version=(item.size, item.mtime_ns),
        info=task.info,
        faces=task.faces,
        detections=task.detections,
        captions=task.captions,
        answers=task.answers,
        tags=task.tags,
        features=features,
        error=(str(task.error), task.error.stage) if task.error is not None else None,
    )


def apply(result: WorkResult, task: PhotoTask) -> None:
    """Put a worker's results on the driver's task (the task must be the result's photo)."""
    assert result.path == str(task.path), "a result was matched to another photo"
    if result.error is not None:
        message, stage = result.error
        task.error = PhotoError(message, stage=stage, version=result.version)
        return
    task.info = result.info
    task.faces, task.detections = result.faces, result.detections
    task.captions, task.answers, task.tags = result.captions, result.answers, result.tags
    task.features.update(result.features)
