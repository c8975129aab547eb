"""The user's metadata is merged, never clobbered; only photod's own values are replaced."""

from __future__ import annotations

from pathlib import Path

import piexif
import pytest

from photod.errors import PhotoError
from photod.metadata.writer import MetadataWriter, WriterOptions

from .samples import as_list, make_photo, read_tags, sample_meta

# What digiKam writes: attribute-form structs, nested rdf:Description regions, its own tags.
DIGIKAM_SIDECAR = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"
    xmlns:MP="http://ns.microsoft.com/photo/1.2/"
    xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
    xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#"
   xmp:Rating="4">
   <digiKam:TagsList><rdf:Seq>
     <rdf:li>People/Bob</rdf:li><rdf:li>Places/Paris</rdf:li>
   </rdf:Seq></digiKam:TagsList>
   <dc:subject><rdf:Bag>
     <rdf:li>Bob</rdf:li><rdf:li>Paris</rdf:li><rdf:li>Zoë</rdf:li>
   </rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag>
     <rdf:li>People|Bob</rdf:li><rdf:li>Places|Paris</rdf:li>
   </rdf:Bag></lr:hierarchicalSubject>
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="512" stDim:h="512" stDim:unit="pixel"/>
    <mwg-rs:RegionList><rdf:Bag>
     <rdf:li><rdf:Description mwg-rs:Name="Bob" mwg-rs:Type="Face">
       <mwg-rs:Area stArea:x="0.8" stArea:y="0.2" stArea:w="0.1" stArea:h="0.1"
         stArea:unit="normalized"/>
     </rdf:Description></rdf:li>
    </rdf:Bag></mwg-rs:RegionList>
   </mwg-rs:Regions>
   <MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag>
     <rdf:li MPReg:PersonDisplayName="Bob" MPReg:Rectangle="0.75, 0.15, 0.1, 0.1"/>
   </rdf:Bag></MPRI:Regions></MP:RegionInfo>
   <dc:description><rdf:Alt>
     <rdf:li xml:lang="x-default">Holiday in Paris</rdf:li>
   </rdf:Alt></dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def _xmp_tags(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if k.startswith("XMP-") and k != "XMP-x:XMPToolkit"}


def _region_names(tags: dict) -> list[str]:
    return [r["Name"] for r in tags.get("XMP-mwg-rs:RegionInfo", {}).get("RegionList", [])]


def test_digikam_sidecar_survives_write_rewrite_and_clear(tmp_path: Path, exiftool: str) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    sidecar = tmp_path / "photo.jpg.xmp"
    sidecar.write_text(DIGIKAM_SIDECAR, encoding="utf-8")
    users = _xmp_tags(read_tags(exiftool, sidecar))
    writer = MetadataWriter(WriterOptions())

    writer.write(photo, sample_meta())
    tags = read_tags(exiftool, sidecar)
    assert tags["XMP-xmp:Rating"] == 4
    assert tags["XMP-dc:Description"] == "Holiday in Paris"  # the user's, not overwritten
    assert as_list(tags["XMP-dc:Subject"]) == ["Bob", "Paris", "Zoë", "Rex", "space suit"]
    assert as_list(tags["XMP-digiKam:TagsList"])[:2] == ["People/Bob", "Places/Paris"]
    assert "People|Zoë" in as_list(tags["XMP-lr:HierarchicalSubject"])
    assert _region_names(tags) == ["Bob", "Zoë", "Rex"]
    assert [r["PersonDisplayName"] for r in tags["XMP-MP:RegionInfoMP"]["Regions"]] == [
        "Bob",
        "Zoë",
        "Rex",
    ]

    # A re-run with other results replaces photod's values only.
    meta = sample_meta()
    meta.keywords, meta.regions = ["Zoë"], meta.regions[:1]
    writer.write(photo, meta)
    tags = read_tags(exiftool, sidecar)
    assert as_list(tags["XMP-dc:Subject"]) == ["Bob", "Paris", "Zoë"]
    assert _region_names(tags) == ["Bob", "Zoë"]

    writer.clear(photo)
    assert sidecar.exists()  # the user's sidecar stays
    assert _xmp_tags(read_tags(exiftool, sidecar)) == users  # exactly what the user had


def test_region_of_a_person_other_tools_already_marked_is_not_duplicated(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    (tmp_path / "photo.jpg.xmp").write_text(DIGIKAM_SIDECAR.replace('"Bob"', '"Zoë"'))
    MetadataWriter(WriterOptions()).write(photo, sample_meta())
    text = (tmp_path / "photo.jpg.xmp").read_text()
    assert text.count("Zoë</mwg-rs:Name>") == 0 and 'mwg-rs:Name="Zoë"' in text


def test_user_description_is_replaced_only_when_configured_and_clear_restores_it(
    tmp_path: Path, exiftool: str
) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    sidecar = tmp_path / "photo.jpg.xmp"
    sidecar.write_text(DIGIKAM_SIDECAR, encoding="utf-8")
    writer = MetadataWriter(WriterOptions(overwrite_description=True))
    writer.write(photo, sample_meta())
    assert read_tags(exiftool, sidecar)["XMP-dc:Description"] == "Zoë in a space suit with Rex"
    writer.clear(photo)
    assert read_tags(exiftool, sidecar)["XMP-dc:Description"] == "Holiday in Paris"


def test_existing_short_sidecar_name_is_used(tmp_path: Path, exiftool: str) -> None:
    photo = make_photo(tmp_path / "photo.png")
    (tmp_path / "photo.xmp").write_text(DIGIKAM_SIDECAR, encoding="utf-8")
    MetadataWriter(WriterOptions()).write(photo, sample_meta())
    assert not (tmp_path / "photo.png.xmp").exists()
    assert "Rex" in as_list(read_tags(exiftool, tmp_path / "photo.xmp")["XMP-dc:Subject"])


def test_users_exif_description_and_keywords_stay(tmp_path: Path, exiftool: str) -> None:
    user_keywords = "Bob;Paris".encode("utf-16-le") + b"\x00\x00"
    photo = make_photo(tmp_path / "photo.jpg", exif_extra={
        piexif.ImageIFD.ImageDescription: b"My holiday",
        piexif.ImageIFD.XPKeywords: tuple(user_keywords),
    })  # fmt: skip
    writer = MetadataWriter(WriterOptions())
    writer.write(photo, sample_meta())
    tags = read_tags(exiftool, photo)
    assert tags["IFD0:ImageDescription"] == "My holiday"
    assert tags["IFD0:XPKeywords"] == "Bob;Paris;Zoë;Rex;space suit"
    assert tags["ExifIFD:UserComment"] == "Zoë in a space suit with Rex"  # was empty: photod's

    meta = sample_meta()
    meta.caption, meta.keywords = "A new caption", ["Zoë"]
    writer.write(photo, meta)
    tags = read_tags(exiftool, photo)
    assert tags["IFD0:XPKeywords"] == "Bob;Paris;Zoë"
    assert tags["IFD0:XPComment"] == "A new caption"

    writer.clear(photo)
    tags = read_tags(exiftool, photo)
    assert tags["IFD0:ImageDescription"] == "My holiday"
    assert tags["IFD0:XPKeywords"] == "Bob;Paris"
    assert "IFD0:XPComment" not in tags and "ExifIFD:UserComment" not in tags
    assert not (tmp_path / "photo.jpg.xmp").exists()


def test_exif_piexif_would_damage_is_left_alone(tmp_path: Path, exiftool: str) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    exif = piexif.load(str(photo))
    exif["Exif"][piexif.ExifIFD.MakerNote] = b"Nikon\x00\x02\x10\x00\x00MM\x00*" + bytes(40)
    piexif.insert(piexif.dump(exif), str(photo))
    before = photo.read_bytes()
    result = MetadataWriter(WriterOptions()).write(photo, sample_meta())
    assert photo.read_bytes() == before
    assert any("MakerNote" in note for note in result.notes)
    assert read_tags(exiftool, tmp_path / "photo.jpg.xmp")["XMP-dc:Subject"]  # sidecar written


def test_sidecar_that_is_not_xmp_is_left_alone(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    (tmp_path / "photo.jpg.xmp").write_text("<not xml")
    before = photo.read_bytes()
    with pytest.raises(PhotoError, match="not valid XMP"):
        MetadataWriter(WriterOptions()).write(photo, sample_meta())
    assert (tmp_path / "photo.jpg.xmp").read_text() == "<not xml"
    assert photo.read_bytes() == before
