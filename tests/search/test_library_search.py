"""A real library searched end to end: trained people (real dlib faces on scikit-image
photos), EXIF dates, cameras and GPS written with piexif, offline reverse geocoding, folders,
tags and captions, through `photod scan`, `photod search` and `photod concept photos`.

No VLM runs here (none can be had offline): the one caption is written into the index as
the personalize stage would store it.
"""

from __future__ import annotations

import json
from pathlib import Path

import piexif
import pytest
from click.testing import CliRunner
from concept_fixtures import composite, face_variant, make_config, save, source_image

from photod.cli import cli
from photod.index.db import connect

LISBON, PARIS = (38.7223, -9.1393), (48.8566, 2.3522)


def _gps(lat: float, lon: float) -> dict:
    def dms(v: float):
        v = abs(v)
        d, m = int(v), int((v - int(v)) * 60)
        return ((d, 1), (m, 1), (round(((v - d) * 60 - m) * 6000), 100))

    return {
        piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
        piexif.GPSIFD.GPSLatitude: dms(lat),
        piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
        piexif.GPSIFD.GPSLongitude: dms(lon),
    }


def _photo(img, path: Path, when: str, gps=None, camera: tuple[bytes, bytes] | None = None):
    exif = {"0th": {}, "Exif": {piexif.ExifIFD.DateTimeOriginal: when.encode()}, "GPS": {}}
    if camera:
        exif["0th"] = {piexif.ImageIFD.Make: camera[0], piexif.ImageIFD.Model: camera[1]}
        exif["Exif"][piexif.ExifIFD.LensModel] = b"XF23mmF2 R WR"
    if gps:
        exif["GPS"] = _gps(*gps)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=92, exif=piexif.dump(exif))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Eileen (the astronaut) and Bob (the cameraman) trained; four photos indexed."""
    tmp = tmp_path_factory.mktemp("library")
    make_config(tmp)
    cfg = str(tmp / "config.yaml")
    run = CliRunner().invoke
    root = tmp / "photos"
    _photo(
        face_variant("astronaut", 40),
        root / "Holidays/eileen.jpg",
        "2023:06:14 10:00:00",
        LISBON,
        (b"FUJIFILM", b"X100V"),
    )
    _photo(composite(41), root / "Holidays/both.jpg", "2024:02:01 12:00:00", PARIS)
    _photo(face_variant("camera", 42), root / "Home/bob.jpg", "2022:01:01 09:00:00")
    _photo(source_image("coffee"), root / "Home/coffee.jpg", "2023:07:01 08:00:00")  # fmt: skip
    for name, who, cls in (("Eileen", "astronaut", "woman"), ("Bob", "camera", "man")):
        ex = [save(face_variant(who, s), tmp / f"ex/{who}{s}.jpg") for s in range(3)]
        r = run(cli, ["--config", cfg, "concept", "add", name, "--kind", "person",
                      "--class", cls, *ex])  # fmt: skip
        assert r.exit_code == 0, r.output
        assert run(cli, ["--config", cfg, "concept", "train", name]).exit_code == 0
    r = run(cli, ["--config", cfg, "scan", "--no-progress"])
    assert r.exit_code == 0 and "4 indexed" in r.output, r.output
    db = connect(tmp / "data" / "index.sqlite")
    ids = {Path(p).name: i for i, p in db.execute("SELECT id, path FROM photos")}
    db["captions"].insert(
        {"photo_id": ids["eileen.jpg"], "text": "a woman smiling in the sun", "model": "toy",
         "created_at": 0}
    )  # fmt: skip
    db["tags"].insert(
        {"photo_id": ids["coffee.jpg"], "value": "breakfast", "source": "test", "model": "t/1"}
    )
    db.close()
    return cfg


def search(cfg: str, *query: str) -> tuple[int, list[str], dict]:
    """(exit status, result file names, the JSON) of `photod search --json QUERY`."""
    r = CliRunner().invoke(cli, ["--config", cfg, "search", "--json", *query])
    out = json.loads(r.stdout)
    return r.exit_code, sorted(Path(h["path"]).name for h in out.get("results", [])), out


@pytest.mark.parametrize(
    ("query", "found"),
    [
        (["eileen"], ["both.jpg", "eileen.jpg"]),  # by name: no VLM needed
        (["person:Eileen"], ["both.jpg", "eileen.jpg"]),
        (["bob"], ["bob.jpg", "both.jpg"]),
        (["eileen", "smiling"], ["eileen.jpg"]),  # a name plus words of a caption
        (["with:Eileen,Bob"], ["both.jpg"]),
        (["only:Eileen"], ["eileen.jpg"]),  # both.jpg has Bob's face too
        (["only:Bob"], ["bob.jpg"]),
        (["only:Eileen,Bob"], ["both.jpg"]),
        (["person:Eileen", "-person:Bob"], ["eileen.jpg"]),
        (["eileen", "-paris"], ["eileen.jpg"]),
        (["eileen", "OR", "bob"], ["bob.jpg", "both.jpg", "eileen.jpg"]),
        (["after:2023", "before:2024"], ["coffee.jpg", "eileen.jpg"]),
        (["after:2023-06-15"], ["both.jpg", "coffee.jpg"]),
        (["2023"], ["coffee.jpg", "eileen.jpg"]),  # the year is a word of the photo
        (["june"], ["eileen.jpg"]),
        (["in:Home"], ["bob.jpg", "coffee.jpg"]),
        (["holidays"], ["both.jpg", "eileen.jpg"]),  # folder names are words too
        (["coffee"], ["coffee.jpg"]),  # and file names
        (["near:lisbon"], ["eileen.jpg"]),
        (["lisbon"], ["eileen.jpg"]),
        (["portugal"], ["eileen.jpg"]),
        (["paris", "bob"], ["both.jpg"]),
        (["camera:x100"], ["eileen.jpg"]),
        (["fujifilm"], ["eileen.jpg"]),
        (["lens:xf23mm"], ["eileen.jpg"]),
        (["tag:breakfast"], ["coffee.jpg"]),
        (["tag:Eileen"], ["both.jpg", "eileen.jpg"]),  # concepts found are tags too
    ],
)
def test_found_exactly(library, query, found):
    status, names, _ = search(library, *query)
    assert (status, names) == (0, found)


def test_results_say_who_when_where_and_why(library):
    _, _, out = search(library, "eileen", "smiling")
    [hit] = out["results"]
    assert hit["people"] == ["Eileen"] and hit["taken_at"] == "2023-06-14T10:00:00"
    assert "Lisbon" in hit["place"] and "Portugal" in hit["place"]
    assert hit["camera"] == "FUJIFILM X100V" and hit["lens"] == "XF23mmF2 R WR"
    assert {"field": "person", "value": "Eileen"} in hit["matched"]
    assert hit["captions"] == [{"text": "a woman smiling in the sun", "model": "toy",
                                "concept_versions": {}}]  # fmt: skip
    assert hit["score"] > 0 and out["version"] == 1 and out["count"] == 1
    text = CliRunner().invoke(cli, ["--config", library, "search", "person:Eileen"])
    assert text.exit_code == 0
    assert "2024-02-01 12:00 · Bob, Eileen · Paris" in text.output  # date, who, where
    assert "matched: person Eileen" in text.output


def test_concept_photos(library):
    r = CliRunner().invoke(cli, ["--config", library, "concept", "photos", "eileen"])
    assert r.exit_code == 0
    lines = [ln for ln in r.output.splitlines() if not ln.startswith(" ")]
    assert [Path(ln.split()[0]).name for ln in lines] == ["both.jpg", "eileen.jpg"]  # newest
    r = CliRunner().invoke(cli, ["--config", library, "concept", "photos", "Zed", "--json"])
    assert r.exit_code == 2 and "no concept named 'Zed' (known: Bob, Eileen)" in r.stderr


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (["person:Zed"], "person:Zed: no person named 'Zed' (known: Bob, Eileen)"),
        (["after:2023-13"], "after:2023-13: no such date"),
        (['"unclosed'], "unclosed quote"),
        (["colour:red"], "unknown filter colour:"),
        (["AND", "OR"], "OR needs a term on each side"),
    ],
)
def test_malformed_queries_exit_2_with_one_line(library, query, message):
    for json_flag in ([], ["--json"]):
        r = CliRunner().invoke(cli, ["--config", library, "search", *json_flag, *query])
        assert r.exit_code == 2 and r.stderr.startswith("photod: bad query: ")
        assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.output
        if json_flag:
            assert message in json.loads(r.stdout)["error"]


def test_nothing_found_exits_1_with_and_without_json(library):
    status, names, out = search(library, "zebra")
    assert (status, names, out["count"]) == (1, [], 0)
    r = CliRunner().invoke(cli, ["--config", library, "search", "zebra"])
    assert r.exit_code == 1 and r.stderr.strip().endswith("no photos match")
