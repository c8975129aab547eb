"""What travels through the pipeline: one :class:`PhotoTask` per photo.

Each stage fills its own fields. Boxes are normalised to [0, 1] in the *oriented* image
(EXIF orientation applied), so later consumers (regions in metadata, crops) need no pixel size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photod.errors import PhotoError
from photod.index.jobs import Job


@dataclass
class PhotoInfo:
    """Facts about the file, recorded by ingest."""

    content_hash: str
    size: int
    mtime_ns: int
    width: int  # oriented (as displayed)
    height: int
    orientation: int = 1
    format: str = ""
    taken_at: str | None = None
    camera: str | None = None  # EXIF make and model
    lens: str | None = None
    latitude: float | None = None  # EXIF GPS, decimal degrees
    longitude: float | None = None
    place: str | None = None  # where the GPS position lies (the places stage fills it)


@dataclass
class Face:
    """One detected face; ``embedding`` is whatever the face backend produces."""

    box: tuple[float, float, float, float]  # x, y, w, h normalised
    score: float
    model: str
    embedding: Any = None  # numpy float32 vector
    landmarks: list[tuple[float, float]] | None = None


BOX_HEAD = "head"
BOX_VLM = "vlm"


@dataclass
class Detection:
    """A concept head fired on the photo."""

    concept_id: int
    score: float
    head_model: str
    concept_version: int
    face_index: int | None = None  # index into PhotoTask.faces for person heads
    box: tuple[float, float, float, float] | None = None
    #: What produced ``box``: :data:`BOX_HEAD` (the head found it there) or :data:`BOX_VLM`
    #: (a grounding VLM answered with it); None counts as the head's when a box is set.
    box_source: str | None = None


@dataclass
class Caption:
    """A caption and the model/concept versions that produced it."""

    text: str
    model: str
    concept_versions: dict[str, int] = field(default_factory=dict)


@dataclass
class Answer:
    """A VQA answer and the model/concept versions that produced it."""

    question: str
    answer: str
    model: str
    concept_versions: dict[str, int] = field(default_factory=dict)


@dataclass
class Tag:
    """A label a stage or plugin gives the photo (``blurry``), stored in the index's tags table.

    A tag is searchable (``photod search blurry``) and is written into the photo's metadata
    as a keyword: a plugin says a value is a keyword by emitting it as a tag. ``source`` names
    what produced it (the plugin or stage), ``model`` its model and version, so a new version
    can invalidate exactly its own tags; ``score`` is optional evidence (shown, never written).
    """

    value: str
    source: str
    model: str
    score: float | None = None


@dataclass
class PhotoTask:
    """One photo on its way through the stages."""

    job: Job
    path: Path
    info: PhotoInfo | None = None
    image: Any = None  # working copy: PIL RGB image, oriented, longest side bounded
    unchanged: bool = False  # same content as already indexed: model stages skip it
    features: dict[str, Any] = field(default_factory=dict)  # shared features by name
    faces: list[Face] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    captions: list[Caption] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    # Plugins' scratch values between stages: never stored, never written into metadata.
    extras: dict[str, Any] = field(default_factory=dict)
    photo_id: int | None = None  # set by the index stage
    error: PhotoError | None = None

    @property
    def ok(self) -> bool:
        """No stage has failed on this photo so far."""
        return self.error is None

    def release(self) -> None:
        """Drop the large in-memory objects once the photo is committed."""
        self.image = None
        self.features.clear()
