"""The pixels and every non-EXIF segment of a photo survive photod's writes byte for byte."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photod.metadata.writer import MetadataWriter, WriterOptions

from .samples import make_photo, pixels, sample_meta


def jpeg_parts(data: bytes) -> list[bytes]:
    """Each segment up to the scan, then the scan data and the rest as one part."""
    parts, pos = [], 2
    while data[pos + 1] != 0xDA:
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        parts.append(data[pos : pos + 2 + length])
        pos += 2 + length
    return [*parts, data[pos:]]


def webp_chunks(data: bytes) -> list[bytes]:
    """Each RIFF chunk with its header."""
    chunks, pos = [], 12
    while pos < len(data):
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        chunks.append(data[pos : pos + 8 + size + (size & 1)])
        pos += 8 + size + (size & 1)
    return chunks


def _exif_free(parts: list[bytes]) -> list[bytes]:
    return [p for p in parts if not (p[:2] == b"\xff\xe1" and p[4:10] == b"Exif\x00\x00")]


def test_jpeg_pixels_and_other_segments_are_identical(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    # An ICC profile and a comment segment as further segments that must survive.
    with Image.open(photo) as img:
        exif = img.info["exif"]
        img.save(photo, exif=exif, icc_profile=b"\x00" * 128, comment=b"hello", quality=90)
    before, before_pixels = photo.read_bytes(), pixels(photo)
    writer = MetadataWriter(WriterOptions())
    writer.write(photo, sample_meta())
    after = photo.read_bytes()
    assert after != before
    assert pixels(photo) == before_pixels
    assert _exif_free(jpeg_parts(after)) == _exif_free(jpeg_parts(before))
    assert jpeg_parts(after)[0] == jpeg_parts(before)[0]  # JFIF APP0 still first


def test_jpeg_without_exif_gets_it_after_jfif_and_clear_restores_every_byte(tmp_path: Path) -> None:
    photo = tmp_path / "plain.jpg"
    Image.fromarray(np.full((40, 60, 3), 120, np.uint8)).save(photo, quality=95)
    original = photo.read_bytes()
    writer = MetadataWriter(WriterOptions())
    writer.write(photo, sample_meta(size=(60, 40)))
    parts = jpeg_parts(photo.read_bytes())
    assert parts[0][:2] == b"\xff\xe0" and parts[1][4:10] == b"Exif\x00\x00"
    writer.clear(photo)
    assert photo.read_bytes() == original
    assert not (tmp_path / "plain.jpg.xmp").exists()  # photod's own sidecar is gone too


@pytest.mark.parametrize("lossless", [False, True])
def test_webp_pixels_and_other_chunks_are_identical(tmp_path: Path, lossless: bool) -> None:
    photo = tmp_path / "photo.webp"
    # A simple-format WebP (no VP8X, no EXIF): photod must add VP8X without touching VP8/VP8L.
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 64, 3), np.uint8)).save(
        photo, lossless=lossless, quality=80
    )
    before, before_pixels = photo.read_bytes(), pixels(photo)
    MetadataWriter(WriterOptions()).write(photo, sample_meta(size=(64, 48)))
    after = photo.read_bytes()
    assert pixels(photo) == before_pixels
    new_chunks = webp_chunks(after)
    assert new_chunks[0][:4] == b"VP8X" and new_chunks[0][8] & 0x08  # EXIF flag set
    assert [c for c in new_chunks if c[:4] not in (b"VP8X", b"EXIF")] == webp_chunks(before)
    with Image.open(photo) as img:
        assert img.size == (64, 48)


def test_webp_with_exif_keeps_every_other_chunk(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.webp")
    before, before_pixels = photo.read_bytes(), pixels(photo)
    MetadataWriter(WriterOptions()).write(photo, sample_meta())
    assert pixels(photo) == before_pixels
    keep = (b"EXIF",)
    assert [c for c in webp_chunks(photo.read_bytes()) if c[:4] not in keep] == [
        c for c in webp_chunks(before) if c[:4] not in keep
    ]


def test_unchanged_rewrite_does_not_touch_the_files(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg")
    writer = MetadataWriter(WriterOptions())
    writer.write(photo, sample_meta())
    photo_stat, side_stat = photo.stat(), (tmp_path / "photo.jpg.xmp").stat()
    result = writer.write(photo, sample_meta())
    assert not result.photo_changed and result.sidecar is None
    assert photo.stat().st_mtime_ns == photo_stat.st_mtime_ns
    assert (tmp_path / "photo.jpg.xmp").stat().st_mtime_ns == side_stat.st_mtime_ns
