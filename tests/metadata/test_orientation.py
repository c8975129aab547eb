"""Photos stored rotated (EXIF orientation 6 and 8): the regions must land on the face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from photod.metadata.writer import MetadataWriter, WriterOptions

from .samples import FACE_PX, make_photo, oriented_astronaut, read_tags, sample_meta

TO_DISPLAY = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_270,
    8: Image.Transpose.ROTATE_90,
}


def _crop(img: Image.Image, left: float, top: float, w: float, h: float) -> Image.Image:
    W, H = img.size
    return img.crop((round(left * W), round(top * H), round((left + w) * W), round((top + h) * H)))


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_regions_cover_the_face_in_the_stored_pixels(
    tmp_path: Path, exiftool: str, orientation: int
) -> None:
    photo = make_photo(tmp_path / "rotated.jpg", orientation=orientation)
    MetadataWriter(WriterOptions()).write(photo, sample_meta(orientation))
    tags = read_tags(exiftool, tmp_path / "rotated.jpg.xmp")

    with Image.open(photo) as img:
        stored = img.convert("RGB")  # the pixels as stored, orientation not applied
        displayed = ImageOps.exif_transpose(img).convert("RGB")
    assert tags["XMP-mwg-rs:RegionInfo"]["AppliedToDimensions"]["W"] == stored.size[0]
    face = next(r for r in tags["XMP-mwg-rs:RegionInfo"]["RegionList"] if r["Name"] == "Zoë")
    a = face["Area"]
    mwg_crop = _crop(stored, a["X"] - a["W"] / 2, a["Y"] - a["H"] / 2, a["W"], a["H"])
    rect = [float(v) for v in tags["XMP-MP:RegionInfoMP"]["Regions"][0]["Rectangle"].split(",")]
    mp_crop = _crop(stored, *rect)

    # What a viewer shows for the region, turned upright, is exactly the displayed face ...
    expected = np.asarray(displayed.crop(FACE_PX))
    for crop in (mwg_crop, mp_crop):
        assert np.array_equal(np.asarray(crop.transpose(TO_DISPLAY[orientation])), expected)
    # ... and that is the astronaut's face (JPEG noise aside), not some other part of the photo.
    original = np.asarray(oriented_astronaut().crop(FACE_PX), dtype=np.int16)
    assert np.abs(expected.astype(np.int16) - original).mean() < 8
