"""Real sample photos (scikit-image's astronaut face) and read-back helpers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import piexif
from PIL import Image
from skimage import data

from photod.metadata.model import FACE, PET, Geometry, PhotoMetadata, Region

# The astronaut's face in skimage's 512x512 astronaut(), as displayed (x0, y0, x1, y1).
FACE_PX = (168, 56, 264, 184)


def oriented_astronaut() -> Image.Image:
    """The photo as a viewer shows it."""
    return Image.fromarray(data.astronaut())


def _stored(img: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera would store so that ``orientation`` displays ``img`` upright."""
    inverse = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }
    return img.transpose(inverse[orientation]) if orientation in inverse else img


def make_photo(path: Path, orientation: int = 1, exif_extra: dict | None = None) -> Path:
    """A real photo file (format from the suffix) with the astronaut, stored for ``orientation``."""
    img = oriented_astronaut()
    if path.suffix.lower() == ".png":
        img = img.crop((0, 0, 512, 384))  # not square, so a wrong dimension shows
    stored = _stored(img, orientation)
    kwargs: dict = {}
    if path.suffix.lower() in (".jpg", ".webp"):
        zeroth = {piexif.ImageIFD.Orientation: orientation, piexif.ImageIFD.Make: b"TestCam"}
        zeroth.update(exif_extra or {})
        kwargs["exif"] = piexif.dump({"0th": zeroth, "Exif": {}, "GPS": {}, "1st": {}})
        kwargs["quality"] = 90
    if path.suffix.lower() == ".heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
        kwargs["quality"] = 80
    stored.save(path, **kwargs)
    return path


def face_box(orientation_size: tuple[int, int] = (512, 512)) -> tuple[float, float, float, float]:
    """The astronaut's face as a normalised displayed-frame box."""
    w, h = orientation_size
    x0, y0, x1, y1 = FACE_PX
    return x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h


def sample_meta(orientation: int = 1, size: tuple[int, int] = (512, 512)) -> PhotoMetadata:
    """Metadata as the pipeline would build it: a person with a face region and a pet."""
    return PhotoMetadata(
        geometry=Geometry(size[0], size[1], orientation),
        caption="Zoë in a space suit with Rex",
        keywords=["Zoë", "Rex", "space suit"],
        hierarchy=[("People", "Zoë"), ("Pets", "Rex"), ("Tags", "space suit")],
        people=["Zoë"],
        regions=[
            Region("Zoë", FACE, face_box(size)),
            Region("Rex", PET, (0.05, 0.6, 0.2, 0.25)),
        ],
    )


def read_tags(exiftool: str, path: Path, *args: str) -> dict:
    """Every tag exiftool finds in ``path``, grouped (``XMP-dc:Subject``), numbers as numbers."""
    out = subprocess.run(
        [exiftool, "-j", "-G1", "-n", "-struct", *args, str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out)[0]


def as_list(value) -> list:
    """exiftool gives one value unwrapped and several as a list."""
    return value if isinstance(value, list) else [value]


def pixels(path: Path) -> bytes:
    """The decoded pixels, exactly as stored (no orientation applied)."""
    if path.suffix.lower() == ".heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")).tobytes()
