"""Every field photod writes, read back by exiftool and piexif, on JPEG, WebP, PNG and HEIC."""

from __future__ import annotations

from pathlib import Path

import piexif
import piexif.helper
import pytest

from photod.metadata.sidecar import sidecar_path
from photod.metadata.writer import MetadataWriter, WriterOptions

from .samples import as_list, make_photo, read_tags, sample_meta

CAPTION = "Zoë in a space suit with Rex"


def _check_sidecar(tags: dict, width: int, height: int) -> None:
    assert tags["XMP-dc:Description"] == CAPTION
    assert as_list(tags["XMP-dc:Subject"]) == ["Zoë", "Rex", "space suit"]
    assert as_list(tags["XMP-lr:HierarchicalSubject"]) == [
        "People|Zoë", "Pets|Rex", "Tags|space suit",
    ]  # fmt: skip
    assert as_list(tags["XMP-digiKam:TagsList"]) == ["People/Zoë", "Pets/Rex", "Tags/space suit"]
    assert as_list(tags["XMP-iptcExt:PersonInImage"]) == ["Zoë"]
    regions = tags["XMP-mwg-rs:RegionInfo"]
    assert regions["AppliedToDimensions"] == {"W": width, "H": height, "Unit": "pixel"}
    listed = {r["Name"]: r for r in regions["RegionList"]}
    assert listed["Zoë"]["Type"] == "Face" and listed["Rex"]["Type"] == "Pet"
    assert listed["Zoë"]["Area"]["Unit"] == "normalized"
    mp = tags["XMP-MP:RegionInfoMP"]["Regions"]
    # MP regions have no type: the pet is listed beside the person, by name.
    assert [r["PersonDisplayName"] for r in mp] == ["Zoë", "Rex"]
    # Same region in both schemas: MWG centre = MP top-left + half the size.
    area = listed["Zoë"]["Area"]
    x, y, w, h = (float(v) for v in mp[0]["Rectangle"].split(","))
    assert (area["X"], area["Y"], area["W"], area["H"]) == pytest.approx(
        (x + w / 2, y + h / 2, w, h), abs=1e-6
    )


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_exif_and_sidecar_fields_in_jpeg_and_webp(
    tmp_path: Path, exiftool: str, suffix: str
) -> None:
    photo = make_photo(tmp_path / f"photo{suffix}")
    result = MetadataWriter(WriterOptions()).write(photo, sample_meta())
    assert result.photo_changed and result.sidecar == tmp_path / f"photo{suffix}.xmp"

    tags = read_tags(exiftool, photo)
    assert tags["IFD0:ImageDescription"] == "Zoe in a space suit with Rex"  # ASCII-safe
    assert tags["ExifIFD:UserComment"] == CAPTION
    assert tags["IFD0:XPComment"] == CAPTION
    assert tags["IFD0:XPKeywords"] == "Zoë;Rex;space suit"
    assert tags["IFD0:Make"] == "TestCam" and tags["IFD0:Orientation"] == 1  # kept

    exif = piexif.load(photo.read_bytes()) if suffix == ".jpg" else piexif.load(str(photo))
    zeroth = exif["0th"]
    assert zeroth[piexif.ImageIFD.ImageDescription] == b"Zoe in a space suit with Rex"
    comment = exif["Exif"][piexif.ExifIFD.UserComment]
    assert comment.startswith(b"UNICODE\x00")  # the charset prefix
    assert piexif.helper.UserComment.load(comment) == CAPTION
    assert bytes(zeroth[piexif.ImageIFD.XPComment]).decode("utf-16-le").rstrip("\x00") == CAPTION
    keywords = bytes(zeroth[piexif.ImageIFD.XPKeywords]).decode("utf-16-le").rstrip("\x00")
    assert keywords.split(";") == ["Zoë", "Rex", "space suit"]

    _check_sidecar(read_tags(exiftool, sidecar_path(photo)), 512, 512)


def test_ascii_caption_gets_an_ascii_user_comment(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    meta = sample_meta()
    meta.caption = "Alice on the beach"
    MetadataWriter(WriterOptions()).write(photo, meta)
    comment = piexif.load(str(photo))["Exif"][piexif.ExifIFD.UserComment]
    assert comment == b"ASCII\x00\x00\x00Alice on the beach"


@pytest.mark.parametrize("suffix", [".png", ".heic"])
def test_sidecar_only_formats(tmp_path: Path, exiftool: str, suffix: str) -> None:
    photo = make_photo(tmp_path / f"photo{suffix}")
    before = photo.read_bytes()
    size = (512, 384) if suffix == ".png" else (512, 512)
    result = MetadataWriter(WriterOptions()).write(photo, sample_meta(size=size))
    assert not result.photo_changed and photo.read_bytes() == before
    _check_sidecar(read_tags(exiftool, tmp_path / f"photo{suffix}.xmp"), *size)


def test_fields_can_be_turned_off(tmp_path: Path, exiftool: str) -> None:
    from photod.metadata.model import Fields

    photo = make_photo(tmp_path / "photo.jpg")
    options = WriterOptions(exif=False, fields=Fields.from_names(["keywords"]))
    before = photo.read_bytes()
    MetadataWriter(options).write(photo, sample_meta())
    assert photo.read_bytes() == before  # no EXIF written
    tags = read_tags(exiftool, tmp_path / "photo.jpg.xmp")
    assert as_list(tags["XMP-dc:Subject"]) == ["Zoë", "Rex", "space suit"]
    for absent in ("XMP-dc:Description", "XMP-lr:HierarchicalSubject", "XMP-mwg-rs:RegionInfo"):
        assert absent not in tags


def test_sidecar_off_writes_no_sidecar(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    MetadataWriter(WriterOptions(sidecar=False)).write(photo, sample_meta())
    assert not (tmp_path / "photo.jpg.xmp").exists()
    assert piexif.load(str(photo))["0th"][piexif.ImageIFD.XPComment]
