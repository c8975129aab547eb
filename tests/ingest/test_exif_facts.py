"""Camera, lens and GPS read from real EXIF blocks (written with piexif), and the place a
position lies in from the bundled GeoNames table (offline)."""

from __future__ import annotations

import io

import piexif
import pytest
from PIL import Image

from photod.ingest import exif_facts
from photod.ingest.places import Geocoder, place_name


def _exif(zeroth=None, exif=None, gps=None) -> Image.Exif:
    data = piexif.dump({"0th": zeroth or {}, "Exif": exif or {}, "GPS": gps or {}})
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG", exif=data)
    return Image.open(io.BytesIO(buf.getvalue())).getexif()


def _dms(d, m, s100):
    return ((d, 1), (m, 1), (s100, 100))


def test_camera_and_lens():
    ifd = piexif.ImageIFD
    assert exif_facts.camera(_exif({ifd.Make: b"FUJIFILM", ifd.Model: b"X100V"})) == (
        "FUJIFILM X100V"
    )
    assert exif_facts.camera(_exif({ifd.Make: b"Canon", ifd.Model: b"Canon EOS R5\x00"})) == (
        "Canon EOS R5"
    )  # the make once
    assert exif_facts.camera(_exif()) is None
    lens = {piexif.ExifIFD.LensMake: b"Sigma", piexif.ExifIFD.LensModel: b"35mm F1.4 DG"}
    assert exif_facts.lens(_exif(exif=lens)) == "Sigma 35mm F1.4 DG"
    assert exif_facts.lens(_exif()) is None


def test_gps_position():
    g = piexif.GPSIFD
    south_west = {g.GPSLatitudeRef: b"S", g.GPSLatitude: _dms(33, 52, 4000),
                  g.GPSLongitudeRef: b"W", g.GPSLongitude: _dms(70, 39, 0)}  # fmt: skip
    lat, lon = exif_facts.gps(_exif(gps=south_west))
    assert lat == pytest.approx(-(33 + 52 / 60 + 40 / 3600)) and lon == pytest.approx(-70.65)
    no_fix = {g.GPSLatitudeRef: b"N", g.GPSLatitude: _dms(0, 0, 0),
              g.GPSLongitudeRef: b"E", g.GPSLongitude: _dms(0, 0, 0)}  # fmt: skip
    assert exif_facts.gps(_exif(gps=no_fix)) is None
    broken = {g.GPSLatitude: ((1, 0), (0, 1), (0, 1)), g.GPSLongitude: _dms(1, 0, 0)}
    assert exif_facts.gps(_exif(gps=broken)) is None  # a zero denominator, no exception
    assert exif_facts.gps(_exif()) is None


def test_places_from_the_bundled_table():
    geocoder = Geocoder()
    assert "Lisbon, Portugal" in geocoder.place(38.7223, -9.1393)
    assert geocoder.place(48.8566, 2.3522).startswith("Paris")
    assert geocoder.place(-40.0, -30.0) is None  # the South Atlantic: no town near
    assert place_name({"city": "Porto", "county": "Porto", "state": "Porto",
                       "country": "Portugal"}) == "Porto, Portugal"  # fmt: skip
