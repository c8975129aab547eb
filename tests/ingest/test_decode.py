"""decode_photo on valid photos: every format, reduced-size JPEG decoding, EXIF orientation,
taken-at, content hash. Real files written to ``tmp_path``; no mocks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from photod.ingest.decode import DecodeLimits, decode_photo

LIMITS = DecodeLimits(working_size=256)
RED, BLUE, GREY = (230, 20, 20), (20, 20, 230), (128, 128, 128)


@pytest.fixture(autouse=True, scope="module")
def _heif() -> None:
    pillow_heif.register_heif_opener()  # what building IngestStage does in the daemon


def gradient(width: int, height: int) -> np.ndarray:
    """A smooth RGB picture: lossy codecs keep its colours, so means can be compared."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    arr = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=-1)
    return arr.astype(np.uint8)


@pytest.mark.parametrize(
    ("suffix", "fmt", "save_kw"),
    [
        (".jpg", "JPEG", {"quality": 92}),
        (".png", "PNG", {}),
        (".webp", "WEBP", {"quality": 92}),
        (".tif", "TIFF", {}),
        (".heic", "HEIF", {"quality": 92}),
        (".gif", "GIF", {}),
        (".bmp", "BMP", {}),
    ],
)
def test_formats_decode_to_bounded_rgb(tmp_path: Path, suffix: str, fmt: str, save_kw) -> None:
    arr = gradient(640, 480)
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(arr).save(path, **save_kw)

    decoded = decode_photo(path, LIMITS)

    assert decoded.info.format == fmt
    assert (decoded.info.width, decoded.info.height) == (640, 480)
    assert decoded.info.size == path.stat().st_size
    assert decoded.info.mtime_ns == path.stat().st_mtime_ns
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (256, 192)
    mean = np.asarray(decoded.image, dtype=np.float32).mean(axis=(0, 1))
    # GIF quantises to 256 colours; everything else keeps the colours closely.
    assert np.allclose(mean, arr.mean(axis=(0, 1)), atol=6 if fmt == "GIF" else 3)


def test_jpeg_uses_reduced_size_dct_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.fromarray(gradient(2000, 1500)).save(path, quality=90)

    decoded = decode_photo(path, LIMITS)

    # 1/8 scale gives 250 px, just under the working size (256): decoded straight to it.
    assert decoded.decoded_size == (250, 188)
    assert decoded.image.size == (250, 188)
    assert (decoded.info.width, decoded.info.height) == (2000, 1500)


def test_jpeg_decodes_larger_then_resamples_when_no_scale_fits(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.fromarray(gradient(1600, 1200)).save(path, quality=90)

    decoded = decode_photo(path, LIMITS)

    # 1/8 (200 px) would lose too much; 1/4 (400 px) covers 256 px and is resampled down.
    assert decoded.decoded_size == (400, 300)
    assert decoded.image.size == (256, 192)


def test_non_jpeg_is_decoded_at_full_size_then_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(gradient(1200, 900)).save(path)
    decoded = decode_photo(path, LIMITS)
    assert decoded.decoded_size == (1200, 900)
    assert decoded.image.size == (256, 192)


def displayed_picture() -> np.ndarray:
    """60x40 upright picture: red marker top-left, blue marker top-right."""
    arr = np.full((40, 60, 3), GREY, dtype=np.uint8)
    arr[:10, :10] = RED
    arr[:10, -10:] = BLUE
    return arr


# The stored pixels for each EXIF orientation, from the tag's definition (where the stored
# row 0 / column 0 lie on the displayed picture), independent of photod's transpose table.
STORED = {
    1: lambda d: d,
    2: lambda d: d[:, ::-1],  # row 0 top, column 0 right
    3: lambda d: d[::-1, ::-1],  # row 0 bottom, column 0 right
    4: lambda d: d[::-1, :],  # row 0 bottom, column 0 left
    5: lambda d: np.transpose(d, (1, 0, 2)),  # row 0 left, column 0 top
    6: lambda d: np.rot90(d, 1),  # row 0 right, column 0 top
    7: lambda d: np.rot90(d, 1)[:, ::-1],  # row 0 right, column 0 bottom
    8: lambda d: np.rot90(d, -1),  # row 0 left, column 0 bottom
}


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(int(a) - b) <= tol for a, b in zip(pixel, colour, strict=True))


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif", ".heic"])
def test_exif_orientation_gives_upright_image(tmp_path: Path, suffix: str, orientation: int):
    stored = np.ascontiguousarray(STORED[orientation](displayed_picture()))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}{suffix}"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)

    decoded = decode_photo(path, LIMITS)

    assert (decoded.info.width, decoded.info.height) == (60, 40)  # as displayed
    assert decoded.info.orientation == orientation
    img = decoded.image
    assert img.size == (60, 40)
    assert near(img.getpixel((4, 4)), RED), "red marker must be top-left"
    assert near(img.getpixel((55, 4)), BLUE), "blue marker must be top-right"
    assert near(img.getpixel((4, 35)), GREY) and near(img.getpixel((55, 35)), GREY)


def test_orientation_applied_after_reduced_jpeg_decode(tmp_path: Path) -> None:
    stored = np.ascontiguousarray(np.rot90(np.kron(displayed_picture(), np.ones((40, 40, 1)))))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "big6.jpg"
    Image.fromarray(stored.astype(np.uint8)).save(path, exif=exif.tobytes(), quality=90)

    decoded = decode_photo(path, LIMITS)

    assert (decoded.info.width, decoded.info.height) == (2400, 1600)
    assert decoded.decoded_size == (400, 600)  # stored portrait, 1/4 scale
    assert decoded.image.size == (256, 171)
    assert near(decoded.image.getpixel((10, 10)), RED)
    assert near(decoded.image.getpixel((245, 10)), BLUE)


def test_taken_at_from_date_time_original(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0132] = "2001:01:01 00:00:00"  # file modification date: not when it was taken
    exif.get_ifd(0x8769)[0x9003] = "2021:07:04 15:30:05"
    path = tmp_path / "dated.jpg"
    Image.fromarray(gradient(64, 48)).save(path, exif=exif.tobytes())
    assert decode_photo(path, LIMITS).info.taken_at == "2021-07-04T15:30:05"

    exif.get_ifd(0x8769)[0x9011] = "+02:00"
    Image.fromarray(gradient(64, 48)).save(path, exif=exif.tobytes())
    assert decode_photo(path, LIMITS).info.taken_at == "2021-07-04T15:30:05+02:00"


def test_taken_at_absent_or_invalid(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    Image.fromarray(gradient(64, 48)).save(path)
    assert decode_photo(path, LIMITS).info.taken_at is None
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"  # what some cameras write when unset
    Image.fromarray(gradient(64, 48)).save(path, exif=exif.tobytes())
    assert decode_photo(path, LIMITS).info.taken_at is None


def test_content_hash_follows_content_not_name(tmp_path: Path) -> None:
    original = tmp_path / "a.jpg"
    Image.fromarray(gradient(64, 48)).save(original)
    copy = tmp_path / "sub" / "copy.jpg"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    changed = tmp_path / "changed.jpg"
    data = bytearray(original.read_bytes())
    data[-3] ^= 0x01  # one byte inside the entropy-coded data
    changed.write_bytes(bytes(data))

    h = decode_photo(original, LIMITS).info.content_hash
    assert len(h) == 32
    assert decode_photo(copy, LIMITS).info.content_hash == h
    assert decode_photo(changed, LIMITS).info.content_hash != h
