"""Pets and objects found by their heads or located by a grounding VLM become MWG and MP
regions, from the index's rows to a real JPEG's sidecar, read back by exiftool."""

from __future__ import annotations

from pathlib import Path

import pytest

from photod.config import MetadataConfig
from photod.index.results import Found, StoredPhoto
from photod.metadata import source
from photod.metadata.writer import MetadataWriter, WriterOptions

from .samples import make_photo, read_tags

MUG = (0.55, 0.2, 0.2, 0.3)  # displayed frame: x, y, w, h
REX = (0.05, 0.6, 0.25, 0.3)


def _stored(orientation: int) -> StoredPhoto:
    photo = StoredPhoto(1, "p.jpg", 0, 0, 512, 512, orientation)
    photo.found = [
        Found("Alice", "person", (0.33, 0.11, 0.19, 0.25)),
        Found("Rex", "pet", REX, "head"),
        Found("my mug", "object", MUG, "vlm"),
        Found("Tom", "pet"),  # fired without a box: a keyword, no region
    ]
    return photo


@pytest.mark.parametrize("orientation", [1, 6])
def test_pet_and_object_regions_read_back_by_exiftool(
    tmp_path: Path, exiftool: str, orientation: int
) -> None:
    photo = make_photo(tmp_path / "photo.jpg", orientation=orientation)
    meta = source.build(_stored(orientation), MetadataConfig())
    MetadataWriter(WriterOptions()).write(photo, meta)
    tags = read_tags(exiftool, tmp_path / "photo.jpg.xmp")

    listed = {r["Name"]: r for r in tags["XMP-mwg-rs:RegionInfo"]["RegionList"]}
    assert {name: r["Type"] for name, r in listed.items()} == {
        "Alice": "Face",
        "Rex": "Pet",
        "my mug": "Object",
    }
    mp = {r["PersonDisplayName"]: r for r in tags["XMP-MP:RegionInfoMP"]["Regions"]}
    assert set(mp) == {"Alice", "Rex", "my mug"}
    area = listed["my mug"]["Area"]
    x, y, w, h = MUG
    if orientation == 1:
        expected = (x + w / 2, y + h / 2, w, h)
    else:  # 6: displayed (u, v) is stored (v, 1 - u); the box turns a quarter
        expected = (y + h / 2, 1 - (x + w / 2), h, w)
    assert (area["X"], area["Y"], area["W"], area["H"]) == pytest.approx(expected, abs=1e-6)
    rect = [float(v) for v in mp["my mug"]["Rectangle"].split(",")]
    left, top = expected[0] - expected[2] / 2, expected[1] - expected[3] / 2
    assert rect == pytest.approx([left, top, expected[2], expected[3]], abs=1e-6)
    hierarchy = tags["XMP-lr:HierarchicalSubject"]
    assert "Pets|Rex" in hierarchy and "Objects|my mug" in hierarchy and "Pets|Tom" in hierarchy
