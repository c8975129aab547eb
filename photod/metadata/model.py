"""What photod writes for one photo: a pure value, independent of any file format."""

from __future__ import annotations

from dataclasses import dataclass, field

FACE = "Face"
PET = "Pet"
#: Not one of MWG 2.0's region types (Face, Pet, Focus, BarCode): no type there means "an
#: object", and Focus means the camera's focus area. Readers keep the text as written.
OBJECT = "Object"


@dataclass(frozen=True)
class Region:
    """A named area of the photo (a person's face, a pet or an object).

    ``box`` is (x, y, w, h) normalised to [0, 1] in the *oriented* image, as displayed, the
    same convention as :class:`photod.pipeline.task.Face`. The writers convert it to the
    stored (unrotated) frame that MWG and Microsoft regions use.
    """

    name: str
    kind: str  # FACE, PET or OBJECT (the MWG region type written)
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class Geometry:
    """The photo's displayed size and its EXIF orientation (1-8)."""

    width: int  # oriented (as displayed)
    height: int
    orientation: int = 1


@dataclass
class PhotoMetadata:
    """Everything photod writes for one photo.

    ``hierarchy`` holds tag paths as tuples, e.g. ``("People", "Alice")``; each format joins
    them with its own separator (``|`` for Lightroom, ``/`` for digiKam).
    """

    geometry: Geometry
    caption: str | None = None
    keywords: list[str] = field(default_factory=list)
    hierarchy: list[tuple[str, ...]] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)


@dataclass(frozen=True)
class Fields:
    """Which parts of :class:`PhotoMetadata` are written (``metadata.fields``)."""

    description: bool = True
    keywords: bool = True
    hierarchy: bool = True
    people: bool = True
    regions: bool = True

    @classmethod
    def from_names(cls, names: list[str]) -> Fields:
        """Fields named in the configuration on, all others off."""
        wanted = set(names)
        return cls(**{name: name in wanted for name in cls.__dataclass_fields__})
